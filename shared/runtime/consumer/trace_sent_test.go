package consumer

import (
	"context"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/shared/tracing"
	"github.com/shop-serverless/shop/shared/tracing/tracingtest"
)

// The span of each delivery as the daemon receives it: in the producer's
// trace under the producer's span (or under what SQS carried), annotated
// with the event, its order and its user, failed with the handler.
func TestDeliverySpansAsSent(t *testing.T) {
	d := tracingtest.StartDaemon(t)
	tracing.Init("notifications", "notifications-order-confirmed")
	c := &Consumer{Handle: func(_ context.Context, e event.Event) error {
		if e.ID() == "e2" {
			return &handlerFailure{id: "e2"}
		}
		return nil
	}}
	batch := sqsBatch(envelope(tracedEvent(t, "e1")), envelope(tracedEvent(t, "e2")))
	batch.Records[1].Attributes["AWSTraceHeader"] = carriedHeader
	if _, err := c.SQS(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	docs := d.Wait(2)
	for _, doc := range docs {
		ann := doc.Obj("annotations")
		wantTrace, wantParent, failed := "1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8", false
		if ann["eventId"] == "e2" {
			wantTrace, wantParent, failed = "1-6759e988-bd862e3fe1be46a994272793", "63995c3f42cd8ad8", true
		}
		if doc.Str("name") != "notifications-order-confirmed" || doc.Str("trace_id") != wantTrace || doc.Str("parent_id") != wantParent {
			t.Errorf("span %v: want trace %s under %s", doc, wantTrace, wantParent)
		}
		if ann["eventType"] != orderCreated || ann["orderId"] != "0193f3a2-5b7c-8d4e-9f10-2a3b4c5d6e7f" || ann["userId"] == nil || ann["service"] != "notifications" {
			t.Errorf("annotations %v", ann)
		}
		if (doc["fault"] == true) != failed {
			t.Errorf("%v: fault %v, want %v", ann["eventId"], doc["fault"], failed)
		}
	}
}
