package consumer

import (
	"encoding/json"
	"testing"

	"github.com/shop-serverless/shop/shared/runtime/internal/lambdatest"
)

func TestServeOnLambda(t *testing.T) {
	sqsPayload, _ := json.Marshal(sqsBatch(envelope(created(t, "e1")), envelope(created(t, "e2"))))
	tests := []struct {
		name        string
		payload     string
		wantOutcome string
		wantBody    string
	}{
		{"SQS batch", string(sqsPayload), "response", `{"batchItemFailures":[{"itemIdentifier":"m2"}]}`},
		{"direct EventBridge, handler error named by its type", envelope(created(t, "e2")), "error",
			`{"errorMessage":"handler failed on e2","errorType":"handlerFailure"}`},
		{"bare CloudEvent", created(t, "e1"), "response", `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordingHandler{failIDs: map[string]bool{"e2": true}}
			c := &Consumer{Handle: h.handle}
			res := lambdatest.Invoke(t, func() { c.Serve(nil) }, []byte(tt.payload))
			if res.Outcome != tt.wantOutcome || string(res.Body) != tt.wantBody {
				t.Errorf("%s %s, want %s %s", res.Outcome, res.Body, tt.wantOutcome, tt.wantBody)
			}
			if res.ContentType != "application/json" {
				t.Errorf("content type %q, want application/json as for any typed handler", res.ContentType)
			}
		})
	}
}
