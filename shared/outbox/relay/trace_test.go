package relay

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/shop-serverless/shop/shared/eventbus"
	"github.com/shop-serverless/shop/shared/tracing"
	"github.com/shop-serverless/shop/shared/tracing/tracingtest"
)

// bus answers PutEvents, failing the entries of the events named in fail.
type bus struct {
	entries []types.PutEventsRequestEntry
	fail    map[string]bool
}

func (b *bus) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	out := &eventbridge.PutEventsOutput{}
	for _, en := range in.Entries {
		b.entries = append(b.entries, en)
		var head struct{ ID string }
		_ = json.Unmarshal([]byte(aws.ToString(en.Detail)), &head)
		if b.fail[head.ID] {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, types.PutEventsResultEntry{ErrorCode: aws.String("MalformedDetail"), ErrorMessage: aws.String("no")})
			continue
		}
		out.Entries = append(out.Entries, types.PutEventsResultEntry{EventId: aws.String("eb-" + head.ID)})
	}
	return out, nil
}

// The spans of a relay's batch, as the daemon receives them: the batch's
// own (stream.Start's, stood in for here), and for each event a span in
// the trace of the code that made it, child of that code's span,
// annotated with the event and its order, with a PutEvents child whose
// header is the one its entry carries; a failed entry fails both.
func TestRelaySpansAsSent(t *testing.T) {
	d := tracingtest.StartDaemon(t)
	tracing.Init("orders", "orders-relay")
	const (
		traceA, parentA = "1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8"
		traceB, parentB = "1-6759e988-bd862e3fe1be46a994272793", "63995c3f42cd8ad8"
	)
	a := newEvent(t, "shop.order.confirmed.v1", "a1", "o-1")
	a.SetExtension(eventbus.ExtTraceParent, "00-5759e988bd862e3fe1be46a994272793-"+parentA+"-01")
	b := newEvent(t, "shop.order.confirmed.v1", "b1", "o-2")
	b.SetExtension(eventbus.ExtTraceParent, "00-6759e988bd862e3fe1be46a994272793-"+parentB+"-01")
	api := &bus{fail: map[string]bool{"b1": true}}
	r, _ := newRelay(eventbus.NewEventBridge("test-bus", func() eventbus.PutEventsAPI { return api }), &fakeQueue{}, nil)
	ctx, batchSpan := tracing.Invocation(context.Background(), "Root=1-7759e988-bd862e3fe1be46a994272793;Parent=73995c3f42cd8ad8;Sampled=1")
	err := r.Handle(ctx, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{outboxRecord(t, 1, a, b)}})
	batchSpan.End(err)
	if err != nil {
		t.Fatal(err) // b1 is parked: a permanent failure
	}
	docs := d.Wait(5) // the batch, two events, two PutEvents
	var eventSpans, calls []tracingtest.Doc
	for _, doc := range docs {
		switch {
		case doc.Str("name") == "EventBridge":
			calls = append(calls, doc)
		case doc.Obj("annotations")["eventId"] != nil:
			eventSpans = append(eventSpans, doc)
		}
	}
	if len(eventSpans) != 2 || len(calls) != 2 {
		t.Fatalf("%d event spans and %d calls in %v", len(eventSpans), len(calls), docs)
	}
	for _, ev := range eventSpans {
		ann := ev.Obj("annotations")
		id := ann["eventId"]
		wantTrace, wantParent, wantOrder, failed := traceA, parentA, "0193f3a2-5b7c-8d4e-9f10-2a3b4c5d6e7f", false
		if id == "b1" {
			wantTrace, wantParent, failed = traceB, parentB, true
		}
		if ev.Str("name") != "orders-relay" || ev.Str("type") != "" || ev.Str("trace_id") != wantTrace || ev.Str("parent_id") != wantParent {
			t.Errorf("%s: span %v, want a segment of trace %s under %s", id, ev, wantTrace, wantParent)
		}
		if ann["eventType"] != "shop.order.confirmed.v1" || ann["orderId"] != wantOrder || ann["service"] != "orders" || ann["userId"] == nil {
			t.Errorf("%s: annotations %v", id, ann)
		}
		if (ev["fault"] == true || ev["error"] == true) != failed {
			t.Errorf("%s: error %v fault %v, want failed=%v", id, ev["error"], ev["fault"], failed)
		}
		var call tracingtest.Doc
		for _, c := range calls {
			if c.Str("parent_id") == ev.Str("id") {
				call = c
			}
		}
		if call == nil || call.Str("trace_id") != wantTrace || call.Str("type") != "subsegment" || call.Obj("aws")["operation"] != "PutEvents" {
			t.Fatalf("%s: no PutEvents child in %v", id, calls)
		}
		if (call["fault"] == true || call["error"] == true) != failed {
			t.Errorf("%s: call error %v fault %v, want failed=%v", id, call["error"], call["fault"], failed)
		}
		want := "Root=" + wantTrace + ";Parent=" + call.Str("id") + ";Sampled=1"
		found := false
		for _, en := range api.entries {
			found = found || aws.ToString(en.TraceHeader) == want
		}
		if !found {
			t.Errorf("%s: no entry carries its call's header %s", id, want)
		}
	}
}
