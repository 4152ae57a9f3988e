package eventbus

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/shared/eventbus/envelope"
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
	entry types.PutEventsRequestEntry
	size  int
}

// Publish checks every event (Check), sends those that pass in batches of
// at most MaxBatch entries and MaxEntryBytes in all (the entries' sizes,
// summed: a conservative reading of the request limit), and sends the
// entries that failed transiently again, only those, with backoff. The
// entries carry the Lambda invocation's trace header when there is one.
func (p *EventBridge) Publish(ctx context.Context, events ...event.Event) error {
	fails := newFailures(len(events))
	trace := envelope.TraceHeader(ctx)
	var queue []pending
	for i, e := range events {
		detail, size, err := encode(e)
		if err != nil {
			fails.add(i, e, true, err.Error(), err)
			continue
		}
		en := entry(e, detail)
		en.EventBusName = aws.String(p.bus)
		if trace != "" && len(trace) <= maxTraceHeader {
			en.TraceHeader = aws.String(trace)
		}
		queue = append(queue, pending{index: i, event: e, entry: en, size: size})
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
// the retry's attempts; what still fails is added to fails.
func (p *EventBridge) send(ctx context.Context, batch []pending, fails *failures) {
	api := p.api()
	for attempt := 1; ; attempt++ {
		entries := make([]types.PutEventsRequestEntry, len(batch))
		for i, b := range batch {
			entries[i] = b.entry
		}
		out, err := api.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			// The SDK has retried the call as far as it deems useful already.
			for _, b := range batch {
				fails.add(b.index, b.event, false, "PutEvents: "+err.Error(), err)
			}
			return
		}
		var again []pending
		reasons := map[int]string{}
		for i, b := range batch {
			if out.FailedEntryCount == 0 {
				break
			}
			if i >= len(out.Entries) {
				// EventBridge answers one result per entry, in order; a short
				// answer leaves these unknown: send them again.
				again = append(again, b)
				reasons[b.index] = "no result for the entry"
				continue
			}
			code := aws.ToString(out.Entries[i].ErrorCode)
			if code == "" {
				continue
			}
			reason := code + ": " + aws.ToString(out.Entries[i].ErrorMessage)
			if permanentCode(code) {
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
