package eventbus

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/shared/tracing"
)

// PutEventsAPI is the part of the EventBridge API a publisher uses;
// *eventbridge.Client satisfies it.
type PutEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// maxTraceHeader is the longest TraceHeader PutEvents accepts.
const maxTraceHeader = 500

// EventBridge publishes to an EventBridge bus.
type EventBridge struct {
	bus   string
	api   func() PutEventsAPI
	retry Retry
}

// NewEventBridge returns a publisher to bus whose client api gives (made
// on first use: sync.OnceValue), retrying as DefaultRetry says.
func NewEventBridge(bus string, api func() PutEventsAPI) *EventBridge {
	return &EventBridge{bus: bus, api: api, retry: DefaultRetry}
}

// WithRetry returns a copy of p that retries as r says.
func (p *EventBridge) WithRetry(r Retry) *EventBridge {
	c := *p
	c.retry = r
	return &c
}

// pending is an entry on its way, with the event it came from.
type pending struct {
	index int // in the events given to Publish
	event event.Event
	trace Traced
	entry types.PutEventsRequestEntry
	size  int
}

// Publish publishes events as PublishTraced does, each entry carrying the
// trace of its own event (envelope.TraceOf: the span that made it), not
// the caller's: a relay's invocation publishes events of many traces.
func (p *EventBridge) Publish(ctx context.Context, events ...event.Event) error {
	return p.PublishTraced(ctx, untraced(events)...)
}

// PublishTraced checks every event (Check), sends those that pass in
// batches of at most MaxBatch entries and MaxEntryBytes in all (the
// entries' sizes, summed: a conservative reading of the request limit),
// and sends the entries that failed transiently again, only those, with
// backoff. Each entry carries its own TraceHeader (Publisher), so that on
// AWS the rules' targets continue that event's trace.
func (p *EventBridge) PublishTraced(ctx context.Context, events ...Traced) error {
	fails := newFailures(len(events))
	var queue []pending
	for i, t := range events {
		e := t.Event
		detail, size, err := encode(e)
		if err != nil {
			fails.add(i, e, true, err.Error(), err)
			continue
		}
		en := entry(e, detail)
		en.EventBusName = aws.String(p.bus)
		queue = append(queue, pending{index: i, event: e, trace: t, entry: en, size: size})
	}
	for len(queue) > 0 {
		n, total := 0, 0
		for n < len(queue) && n < MaxBatch && (n == 0 || total+queue[n].size <= MaxEntryBytes) {
			total += queue[n].size
			n++
		}
		p.send(ctx, queue[:n], fails)
		queue = queue[n:]
	}
	return fails.err()
}

// send puts batch on the bus, then again what failed transiently, up to
// the retry's attempts; what still fails is added to fails. Each call is a
// span per entry in that entry's trace (Publisher), ended with the entry's
// outcome in it.
func (p *EventBridge) send(ctx context.Context, batch []pending, fails *failures) {
	api := p.api()
	for attempt := 1; ; attempt++ {
		entries := make([]types.PutEventsRequestEntry, len(batch))
		spans := make([]*tracing.Span, len(batch))
		for i, b := range batch {
			entries[i] = b.entry
			var header string
			spans[i], header = b.trace.callSpan(func(ctx context.Context) (context.Context, *tracing.Span) {
				return tracing.StartAWS(ctx, "EventBridge", "PutEvents")
			})
			if header != "" && len(header) <= maxTraceHeader {
				entries[i].TraceHeader = aws.String(header)
			}
		}
		out, err := api.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			// The SDK has retried the call as far as it deems useful already.
			for i, b := range batch {
				spans[i].End(err)
				fails.add(b.index, b.event, false, "PutEvents: "+err.Error(), err)
			}
			return
		}
		var again []pending
		reasons := map[int]string{}
		for i, b := range batch {
			reason, permanent := entryFailure(out, i)
			if reason == "" {
				spans[i].End(nil)
				continue
			}
			spans[i].End(errors.New(reason))
			if permanent {
				fails.add(b.index, b.event, true, reason, nil)
				continue
			}
			again = append(again, b)
			reasons[b.index] = reason
		}
		if len(again) == 0 {
			return
		}
		if attempt >= p.retry.Attempts {
			for _, b := range again {
				fails.add(b.index, b.event, false, fmt.Sprintf("%s (after %d attempts)", reasons[b.index], attempt), nil)
			}
			return
		}
		if err := p.retry.wait(ctx, attempt+1); err != nil {
			for _, b := range again {
				fails.add(b.index, b.event, false, reasons[b.index]+"; not retried: "+err.Error(), err)
			}
			return
		}
		batch = again
	}
}

// entryFailure is why out failed the i-th entry of its call, and whether
// that is permanent; "" when it did not.
func entryFailure(out *eventbridge.PutEventsOutput, i int) (reason string, permanent bool) {
	switch {
	case out.FailedEntryCount == 0:
		return "", false
	case i >= len(out.Entries):
		// EventBridge answers one result per entry, in order; a short
		// answer leaves these unknown: send them again.
		return "no result for the entry", false
	}
	code := aws.ToString(out.Entries[i].ErrorCode)
	if code == "" {
		return "", false
	}
	return code + ": " + aws.ToString(out.Entries[i].ErrorMessage), permanentCode(code)
}
