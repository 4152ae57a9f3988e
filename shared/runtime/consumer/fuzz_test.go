package consumer

import (
	"context"
	"testing"
)

// FuzzDecodeEvent: whatever arrives in a queue, decoding never panics and
// never hands the handler an event that fails validation.
func FuzzDecodeEvent(f *testing.F) {
	f.Add(envelope(structuredEvent("e1", "t", `{"a":1}`)))
	f.Add(structuredEvent("e1", "t", `"text"`))
	f.Add(`{"specversion":"1.0","id":"x","source":"s","type":"t","data_base64":"AAEC"}`)
	f.Add(`{"detail-type":"t","detail":null}`)
	f.Add(`{"Records":[]}`)
	f.Fuzz(func(t *testing.T, body string) {
		e, err := decodeEvent([]byte(body))
		if err == nil {
			if verr := e.Validate(); verr != nil {
				t.Fatalf("decoded an invalid event: %v", verr)
			}
		}
		// The SQS path must agree: exactly the undecodable bodies fail.
		resp, _ := SQSAdapter((&recordingHandler{}).handle)(context.Background(), sqsBatch(body))
		if (err != nil) != (len(resp.BatchItemFailures) == 1) {
			t.Fatalf("decode error %v but batch failures %v", err, resp.BatchItemFailures)
		}
	})
}
