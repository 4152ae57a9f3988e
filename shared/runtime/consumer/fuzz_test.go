package consumer

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
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

// FuzzHTTPReceive feeds the Knative entry point (HTTP(), the CloudEvents
// HTTP receiver) arbitrary deliveries: any content type, ce-* attributes
// and body. A handler that succeeds means every answer is 204 (the handler
// saw exactly one event, valid against the catalog's schema) or a 400/413
// problem (the handler saw nothing): never a 5xx, which the broker would
// retry forever.
func FuzzHTTPReceive(f *testing.F) {
	ok := created(f, "h-1")
	var e map[string]any
	if err := json.Unmarshal([]byte(ok), &e); err != nil {
		f.Fatal(err)
	}
	data, _ := json.Marshal(e["data"])
	f.Add("application/cloudevents+json", "", "", "", "", "", ok)
	f.Add("application/cloudevents+json; charset=utf-8", "", "", "", "", "", `{"specversion":`)
	f.Add("application/json", "1.0", "h-2", e["source"].(string), orderCreated, e["subject"].(string), string(data))
	f.Add("application/json", "1.0", "h-3", "shop.orders", "shop.payment.lost.v1", "", `{}`)
	f.Add("", "0.3", "x", "s", "t", "", "")
	f.Add("application/cloudevents-batch+json", "", "", "", "", "", "["+ok+"]")
	f.Add("text/plain; charset=\"", "1.0", "\x00", "%zz", orderCreated, "", "\xff")
	f.Fuzz(func(t *testing.T, contentType, specversion, id, src, typ, subject, body string) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		for k, v := range map[string]string{"Content-Type": contentType, "Ce-Specversion": specversion, "Ce-Id": id, "Ce-Source": src, "Ce-Type": typ, "Ce-Subject": subject} {
			if v != "" {
				req.Header[k] = []string{v}
			}
		}
		h := &recordingHandler{}
		rec := httptest.NewRecorder()
		(&Consumer{Handle: h.handle}).HTTP().ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusNoContent:
			if len(h.seen) != 1 {
				t.Fatalf("204, but the handler saw %d events", len(h.seen))
			}
			structured, err := h.seen[0].MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if err := explain.ValidateEvent(structured); err != nil {
				t.Fatalf("handed the handler an event against its schema: %v", err)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if len(h.seen) != 0 {
				t.Fatalf("%d, but the handler saw %d events", rec.Code, len(h.seen))
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("%d with content type %q", rec.Code, ct)
			}
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}
