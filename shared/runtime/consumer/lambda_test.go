package consumer

import (
	"encoding/json"
	"testing"

	"github.com/shop-serverless/shop/shared/runtime/internal/lambdatest"
)

func TestStartOnLambda(t *testing.T) {
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
			res := lambdatest.Invoke(t, func() { Start(h.handle, nil) }, []byte(tt.payload))
			if res.Outcome != tt.wantOutcome || string(res.Body) != tt.wantBody {
				t.Errorf("%s %s, want %s %s", res.Outcome, res.Body, tt.wantOutcome, tt.wantBody)
			}
			if res.ContentType != "application/json" {
				t.Errorf("content type %q, want application/json as for any typed handler", res.ContentType)
			}
		})
	}
}
