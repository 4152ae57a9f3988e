package runtime

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/shop-serverless/shop/shared/runtime/internal/lambdatest"
)

func TestStartStepOnLambdaNamesErrorsLikeOverHTTP(t *testing.T) {
	for _, tc := range stepErrorCases {
		t.Run(tc.sku, func(t *testing.T) {
			res := lambdatest.Invoke(t, func() { StartStep(reserveStep, nil) }, []byte(`{"orderId":"o-1","sku":"`+tc.sku+`"}`))
			if res.Outcome != "error" {
				t.Fatalf("outcome %s: %s", res.Outcome, res.Body)
			}
			var got stepError
			if err := json.Unmarshal(res.Body, &got); err != nil {
				t.Fatalf("error body %s: %v", res.Body, err)
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
			res := lambdatest.Invoke(t, func() { StartStep(reserveStep, nil) }, []byte(tt.payload))
			if res.Outcome != tt.wantOutcome {
				t.Fatalf("outcome %s, want %s: %s", res.Outcome, tt.wantOutcome, res.Body)
			}
			if tt.wantBody != "" && string(res.Body) != tt.wantBody {
				t.Errorf("body %s, want %s", res.Body, tt.wantBody)
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
	res := lambdatest.Invoke(t, func() { StartHTTP(h) }, payload)
	if res.Outcome != "response" {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Body)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(res.Body, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Body != `{"id":"p-1","requestId":"apigw-req-1"}` || resp.IsBase64Encoded {
		t.Errorf("response %+v", resp)
	}
}
