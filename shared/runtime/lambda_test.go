package runtime

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// invocationResult is what a Lambda runtime loop posted back for one invoke.
type invocationResult struct {
	outcome     string // "response" or "error"
	contentType string
	body        []byte
}

// invokeOnLambda starts a function with start, exactly as main would, against
// a stand-in for the Lambda Runtime API on 127.0.0.1 that hands out payload
// once, and returns what the function posted back. This goes through
// aws-lambda-go's own invoke loop, so errorType is named by aws-lambda-go
// itself, not by our idea of it.
//
// The runtime loop never returns, so each call leaves one goroutine blocked on
// /next for the rest of the test binary's life. Answering that call instead
// would make the loop exit the process.
func invokeOnLambda(t *testing.T, start func(), payload []byte) invocationResult {
	t.Helper()
	results := make(chan invocationResult, 1)
	handedOut := make(chan struct{}, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case handedOut <- struct{}{}:
		default:
			select {} // the next invocation never comes
		}
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "invoke-1")
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
		_, _ = w.Write(payload)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/invoke-1/{outcome}", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		results <- invocationResult{outcome: r.PathValue("outcome"), contentType: r.Header.Get("Content-Type"), body: body}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = http.Serve(ln, mux) }()

	t.Setenv("AWS_LAMBDA_RUNTIME_API", ln.Addr().String())
	go start()
	select {
	case res := <-results:
		return res
	case <-time.After(10 * time.Second):
		t.Fatal("the function never answered the invocation")
		return invocationResult{}
	}
}

func TestStartStepOnLambdaNamesErrorsLikeOverHTTP(t *testing.T) {
	for _, tc := range stepErrorCases {
		t.Run(tc.sku, func(t *testing.T) {
			res := invokeOnLambda(t, func() { StartStep(reserveStep) }, []byte(`{"orderId":"o-1","sku":"`+tc.sku+`"}`))
			if res.outcome != "error" {
				t.Fatalf("outcome %s: %s", res.outcome, res.body)
			}
			var got stepError
			if err := json.Unmarshal(res.body, &got); err != nil {
				t.Fatalf("error body %s: %v", res.body, err)
			}
			if got != (stepError{ErrorType: tc.wantType, ErrorMessage: tc.wantMessage}) {
				t.Errorf("Lambda reported %+v, want %s / %s", got, tc.wantType, tc.wantMessage)
			}
		})
	}
}

func TestStartStepOnLambda(t *testing.T) {
	tests := []struct {
		name        string
		payload     string
		wantOutcome string
		wantBody    string
	}{
		{"ok", `{"orderId":"o-1","sku":"s-1","quantity":1}`, "response", `{"reservationId":"r-o-1","note":"<kept as is>"}`},
		{"unknown field rejected as on Knative", `{"orderId":"o-1","surprise":1}`, "error", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := invokeOnLambda(t, func() { StartStep(reserveStep) }, []byte(tt.payload))
			if res.outcome != tt.wantOutcome {
				t.Fatalf("outcome %s, want %s: %s", res.outcome, tt.wantOutcome, res.body)
			}
			if tt.wantBody != "" && string(res.body) != tt.wantBody {
				t.Errorf("body %s, want %s", res.body, tt.wantBody)
			}
		})
	}
}

func TestStartEventsOnLambda(t *testing.T) {
	sqsPayload, _ := json.Marshal(sqsBatch(
		envelope(structuredEvent("e1", "t", `{}`)),
		envelope(structuredEvent("e2", "t", `{}`)),
	))
	tests := []struct {
		name        string
		payload     string
		wantOutcome string
		wantBody    string
	}{
		{"SQS batch", string(sqsPayload), "response", `{"batchItemFailures":[{"itemIdentifier":"m2"}]}`},
		{"direct EventBridge, handler error named by its type", envelope(structuredEvent("e2", "t", `{}`)), "error",
			`{"errorMessage":"handler failed on e2","errorType":"handlerFailure"}`},
		{"bare CloudEvent", structuredEvent("e1", "t", `{}`), "response", `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordingHandler{failIDs: map[string]bool{"e2": true}}
			res := invokeOnLambda(t, func() { StartEvents(h.handle) }, []byte(tt.payload))
			if res.outcome != tt.wantOutcome || string(res.body) != tt.wantBody {
				t.Errorf("%s %s, want %s %s", res.outcome, res.body, tt.wantOutcome, tt.wantBody)
			}
			if res.contentType != "application/json" {
				t.Errorf("content type %q, want application/json as for any typed handler", res.contentType)
			}
		})
	}
}

func TestStartHTTPOnLambda(t *testing.T) {
	req := apiRequest(http.MethodGet, "/products/p-1")
	req.PathParameters = map[string]string{"id": "p-1"}
	payload, _ := json.Marshal(req)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"`+r.PathValue("id")+`","requestId":"`+r.Header.Get("X-Request-Id")+`"}`)
	})
	res := invokeOnLambda(t, func() { StartHTTP(h) }, payload)
	if res.outcome != "response" {
		t.Fatalf("outcome %s: %s", res.outcome, res.body)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(res.body, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Body != `{"id":"p-1","requestId":"apigw-req-1"}` || resp.IsBase64Encoded {
		t.Errorf("response %+v", resp)
	}
}
