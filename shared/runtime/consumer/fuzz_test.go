package consumer

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	catalog "github.com/shop-serverless/shop/events"
	"github.com/shop-serverless/shop/events/explain"
)

// FuzzDeliverPayload: whatever arrives in a queue, decoding never panics and
// never hands the handler an event that fails the catalog's check (made
// again with explain, the validator tests use); exactly the undecodable
// bodies fail, as poison; and the consumer's check (catalog.ValidateEvent)
// gives the same verdict as explain's on the body and on its detail.
func FuzzDeliverPayload(f *testing.F) {
	f.Add(envelope(created(f, "e1")))
	f.Add(created(f, "e1"))
	f.Add(catalogEvent(f, "shop.user.updated.v1", "u1"))
	f.Add(`{"specversion":"1.0","id":"x","source":"s","type":"t","data_base64":"AAEC"}`)
	f.Add(`{"detail-type":"t","detail":null}`)
	f.Add(`{"Records":[]}`)
	f.Fuzz(func(t *testing.T, body string) {
		var shape payloadShape
		_ = json.Unmarshal([]byte(body), &shape)
		for _, structured := range [][]byte{[]byte(body), shape.Detail} {
			if len(structured) == 0 {
				continue
			}
			if fast, full := catalog.ValidateEvent(structured), explain.ValidateEvent(structured); (fast == nil) != (full == nil) {
				t.Fatalf("the validators disagree on %s: catalog: %v; explain: %v", structured, fast, full)
			}
		}
		h := &recordingHandler{}
		err := (&Consumer{Handle: h.handle}).message(context.Background(), events.SQSMessage{MessageId: "m1", Body: body})
		for _, e := range h.seen {
			if verr := e.Validate(); verr != nil {
				t.Fatalf("handed the handler an invalid event: %v", verr)
			}
			structured, merr := e.MarshalJSON()
			if merr != nil {
				t.Fatal(merr)
			}
			if verr := explain.ValidateEvent(structured); verr != nil {
				t.Fatalf("handed the handler an event against its schema: %v", verr)
			}
		}
		if (err != nil) != (len(h.seen) == 0) {
			t.Fatalf("error %v but the handler saw %d events", err, len(h.seen))
		}
		if err != nil && !IsPermanent(err) {
			t.Fatalf("a decoding failure is not permanent: %v", err)
		}
		// The SQS path must agree: exactly the undecodable bodies fail.
		resp, _ := (&Consumer{Handle: (&recordingHandler{}).handle}).SQS(context.Background(), sqsBatch(body))
		if (err != nil) != (len(resp.BatchItemFailures) == 1) {
			t.Fatalf("decode error %v but batch failures %v", err, resp.BatchItemFailures)
		}
	})
}
