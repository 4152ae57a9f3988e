package consumer

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/shared/tracing"
)

// Trace headers of two distinct traces: the producer's (the event's
// traceparent) and the one SQS carried (AWSTraceHeader).
const (
	producerTraceParent = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"
	carriedHeader       = "Root=1-6759e988-bd862e3fe1be46a994272793;Parent=63995c3f42cd8ad8;Sampled=1"
)

// tracedEvent is a catalog event made inside the producer's span.
func tracedEvent(t *testing.T, id string) string {
	t.Helper()
	return catalogEvent(t, orderCreated, id, func(doc map[string]any) { doc["traceparent"] = producerTraceParent })
}

func TestEventUpstream(t *testing.T) {
	traced, untraced := event.New(), event.New()
	traced.SetExtension("traceparent", producerTraceParent)
	producer := tracing.FromTraceParent(producerTraceParent)
	for _, tt := range []struct {
		name    string
		carried string
		e       event.Event
		decoded bool
		want    string
	}{
		{"the header SQS carried wins", carriedHeader, traced, true, carriedHeader},
		{"else the event's own trace", "", traced, true, producer},
		{"a header without a parent continues nothing", "Root=1-6759e988-bd862e3fe1be46a994272793", traced, true, producer},
		{"neither", "", untraced, true, ""},
		{"poison: only what was carried", carriedHeader, event.Event{}, false, carriedHeader},
		{"poison without a header", "", event.Event{}, false, ""},
	} {
		if got := eventUpstream(tt.carried, tt.e, tt.decoded); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// traceRoot is the Root field of an X-Ray trace header.
func traceRoot(header string) string {
	for _, f := range strings.Split(header, ";") {
		if v, ok := strings.CutPrefix(f, "Root="); ok {
			return v
		}
	}
	return ""
}

// The handler runs in a span of the event's trace: the one SQS carried
// (AWSTraceHeader), else the producer's (traceparent); each record in its
// own. The Lambda invocation's context is not what the handler continues.
func TestHandlerRunsInTheEventsTrace(t *testing.T) {
	var headers []string
	c := &Consumer{Handle: func(ctx context.Context, _ event.Event) error {
		headers = append(headers, tracing.Header(ctx))
		return nil
	}}
	batch := sqsBatch(envelope(tracedEvent(t, "e1")), envelope(tracedEvent(t, "e2")))
	batch.Records[1].Attributes["AWSTraceHeader"] = carriedHeader
	//lint:ignore SA1029 the key aws-lambda-go uses
	ctx := context.WithValue(context.Background(), "x-amzn-trace-id", "Root=1-7759e988-bd862e3fe1be46a994272793;Parent=73995c3f42cd8ad8;Sampled=1")
	if _, err := c.SQS(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if len(headers) != 2 {
		t.Fatalf("handler ran %d times", len(headers))
	}
	if got, want := traceRoot(headers[0]), traceRoot(tracing.FromTraceParent(producerTraceParent)); got != want {
		t.Errorf("record without AWSTraceHeader: trace %s, want the producer's %s", got, want)
	}
	if got, want := traceRoot(headers[1]), traceRoot(carriedHeader); got != want {
		t.Errorf("record with AWSTraceHeader: trace %s, want the carried %s", got, want)
	}

	// On Knative the same, from the delivery's event.
	headers = nil
	e := newTestEvent(t, "k-1")
	e.SetExtension("traceparent", producerTraceParent)
	req := structuredRequest(t, e)
	c.HTTP().ServeHTTP(httptest.NewRecorder(), req)
	if len(headers) != 1 || traceRoot(headers[0]) != traceRoot(tracing.FromTraceParent(producerTraceParent)) {
		t.Errorf("Knative delivery: handler's trace %v, want the producer's", headers)
	}
}
