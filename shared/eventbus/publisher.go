package eventbus

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/backoff"
	"github.com/shop-serverless/shop/shared/eventbus/envelope"
	"github.com/shop-serverless/shop/shared/tracing"
)

// Publisher puts events on the bus. Both methods return nil when every
// event was published, otherwise a *PublishError naming those that were not
// (the others were published), by their index among those given.
type Publisher interface {
	// Publish sends each event in its own trace: the one its traceparent
	// names (envelope.TraceOf), the span that made it.
	Publish(ctx context.Context, events ...event.Event) error
	// PublishTraced sends each event from within its own span (a relay's
	// span for that event): every call that carries it is a child span of
	// that one (EventBridge PutEvents, a POST to the sink), ended with the
	// event's outcome in the call, and passes that child's trace header on
	// (PutEvents' TraceHeader, the POST's X-Amzn-Trace-Id), so that on AWS
	// the bus's targets continue the event's trace. Events are batched as
	// by Publish, whatever their traces; the calls themselves are traced
	// in ctx.
	PublishTraced(ctx context.Context, events ...Traced) error
}

// Traced is an event and the context of its own span (tracing.Invocation
// for that event); a nil Trace publishes it as Publish does.
type Traced struct {
	Event event.Event
	Trace context.Context
}

// untraced wraps events for PublishTraced, each in its own trace.
func untraced(events []event.Event) []Traced {
	out := make([]Traced, len(events))
	for i, e := range events {
		out[i] = Traced{Event: e}
	}
	return out
}

// callSpan begins the span of one call that carries t's event, a child of
// t's span, and returns it with the trace header the call passes on. An
// event without a span of its own gets no span and passes on its own
// trace (envelope.TraceOf).
func (t Traced) callSpan(start func(context.Context) (context.Context, *tracing.Span)) (*tracing.Span, string) {
	if t.Trace == nil {
		return nil, envelope.TraceOf(t.Event)
	}
	ctx, span := start(t.Trace)
	return span, tracing.Header(ctx)
}

// Environment variables FromEnv reads.
const (
	// EnvEventBus names the EventBridge bus (manifest.EnvEventBus, which a
	// test keeps equal: importing the manifest package would link its YAML
	// parser into every publisher).
	EnvEventBus = "SHOP_EVENT_BUS"
	// EnvSink is where Knative's SinkBinding tells a container to send its
	// events: the broker's URL.
	EnvSink = "K_SINK"
)

// FromEnv returns the publisher of this deployment: EventBridge on the bus
// named in SHOP_EVENT_BUS (its client made on first use), or else, on
// Knative, a Sink posting to K_SINK. Neither set is an error.
func FromEnv() (Publisher, error) {
	if bus := os.Getenv(EnvEventBus); bus != "" {
		cfg, err := awsconfig.Load(context.Background())
		if err != nil {
			return nil, fmt.Errorf("eventbus: %w", err)
		}
		return NewEventBridge(bus, sync.OnceValue(func() PutEventsAPI { return eventbridge.NewFromConfig(cfg) })), nil
	}
	if sink := os.Getenv(EnvSink); sink != "" {
		return NewSink(sink)
	}
	return nil, fmt.Errorf("eventbus: neither %s (EventBridge) nor %s (Knative) is set: nowhere to publish", EnvEventBus, EnvSink)
}

// Retry says how a publisher sends again what failed transiently.
type Retry struct {
	// Attempts is how often an event is sent at most, the first time
	// included.
	Attempts int
	// Backoff is the wait before the second attempt; each further wait
	// doubles, up to MaxBackoff, and every wait is jittered (half to all
	// of it), so that relays retrying together do not stay in step.
	Backoff    time.Duration
	MaxBackoff time.Duration
}

// DefaultRetry is what a publisher does unless told otherwise: four sends
// within about a second and a half. The caller (a relay) retries further,
// over its whole time budget.
var DefaultRetry = Retry{Attempts: 4, Backoff: 100 * time.Millisecond, MaxBackoff: time.Second}

// wait sleeps before attempt (2, 3, ...), or returns ctx's error if ctx
// ends first.
func (r Retry) wait(ctx context.Context, attempt int) error {
	return backoff.Sleep(ctx, backoff.Jittered(r.Backoff, r.MaxBackoff, attempt-2))
}

// failures collects a Publish's failures by the index of their event.
type failures struct {
	total int
	byIdx map[int]Failure
}

func newFailures(total int) *failures { return &failures{total: total, byIdx: map[int]Failure{}} }

func (f *failures) add(i int, e event.Event, permanent bool, reason string, err error) {
	f.byIdx[i] = Failure{Index: i, ID: e.ID(), Type: e.Type(), Permanent: permanent, Reason: reason, Err: err}
}

// err is nil without failures, else the *PublishError, failures in the
// order the events were given.
func (f *failures) err() error {
	if len(f.byIdx) == 0 {
		return nil
	}
	pe := &PublishError{Total: f.total}
	for _, i := range slices.Sorted(maps.Keys(f.byIdx)) {
		pe.Failures = append(pe.Failures, f.byIdx[i])
	}
	return pe
}

// checkSinkURL admits an absolute http(s) URL.
func checkSinkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("eventbus: the sink must be an absolute http(s) URL")
	}
	return u, nil
}
