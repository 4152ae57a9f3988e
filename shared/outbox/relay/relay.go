// Package relay is a service's outbox relay: the function of kind stream
// that reads its table's DynamoDB stream, filtered to new outbox items
// (outbox.FilterPattern), and publishes every event in them to the bus. Its
// main is one line:
//
//	func main() { relay.Start() }
//
// # Delivery
//
// At least once, never lost, never wedged:
//
//   - Every event of a batch is published (eventbus: EventBridge on AWS, the
//     Knative sink elsewhere). What fails transiently is published again,
//     only it, with backoff, for as long as the invocation's time allows
//     (its deadline less a margin); then Handle returns an error and the
//     whole batch comes again. Events published before are published again
//     then: consumers deduplicate on the event id, so that is harmless.
//   - A record that can never be published (not an outbox item that
//     decodes, an event that breaks its schema or the bus's size limit, an
//     entry the bus refuses as malformed) is parked: its events, and why,
//     go to the relay's dead-letter queue (SQS, SHOP_DEAD_LETTER_QUEUE_URL),
//     and the batch goes on without it. On AWS the stream mapping bisects a
//     failing batch, retries it a limited number of times and then sends
//     its metadata to the same queue; the local emulator does none of that
//     (it retries a failing batch about once a second, forever), so one bad
//     record must never fail a batch for good. The rest of a parked
//     record's events are published. Records are parked by the delivery
//     that leaves nothing of its batch unpublished, so each once (unless
//     parking itself fails, and the batch comes again).
//
// On Knative no stream mapping delivers the records: the relay polls its
// table's stream itself (shared/runtime/stream's Poller), filtered with
// IsOutboxInsert, as the mapping's filter would.
//
// # Tracing
//
// Each event is published from a span of its own in the trace of the code
// that made it (its traceparent: the order's create or saga step),
// annotated with its type, id and the order it is about (envelope.Annotate),
// ended with its outcome in this delivery. Each PutEvents call that carries
// it is a child of that span, and the entry's TraceHeader is that child's,
// so on AWS the queues and consumers behind the bus continue the same
// trace (eventbus' PublishTraced). The batch's own calls are traced in the
// invocation's context.
//
// # Fault switch
//
// Between commit and publish, each event passes the function's fault switch
// (shared/faults) with its subject as the key (an order, user or product
// id): a test sets faults.Fault{Mode: faults.ModeError, Key: orderID,
// Until: ...} on "<service>-relay", the relay fails that order's events,
// and keeps retrying them, each retry reading the switch again, until the
// fault ends; the events are then published once.
package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/shared/backoff"
	"github.com/shop-serverless/shop/shared/eventbus"
	"github.com/shop-serverless/shop/shared/eventbus/envelope"
	"github.com/shop-serverless/shop/shared/faults"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/metrics"
	"github.com/shop-serverless/shop/shared/outbox"
	"github.com/shop-serverless/shop/shared/store"
	"github.com/shop-serverless/shop/shared/tracing"
)

// DeadLetters is the part of the SQS API the relay parks records with;
// *sqs.Client satisfies it.
type DeadLetters interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Timing of the relay's own retries.
const (
	// retryBackoff is the wait before the second round of publishing what
	// failed; each further wait doubles, up to maxBackoff, jittered.
	retryBackoff = 200 * time.Millisecond
	maxBackoff   = 5 * time.Second
	// margin is kept free before the invocation's deadline: parking records
	// and returning the error must still fit.
	margin = 5 * time.Second
	// budget stands in for the deadline of a context that has none.
	budget = 60 * time.Second
)

// maxMessageBytes is SQS's message size limit.
const maxMessageBytes = 256 * 1024

// Relay publishes the events of outbox records.
type Relay struct {
	publisher   eventbus.Publisher
	deadLetters func() DeadLetters // made on first use
	queueURL    string
	faults      *faults.Injector
	margin      time.Duration
	now         func() time.Time                                 // tests
	sleep       func(ctx context.Context, d time.Duration) error // tests
}

// New returns a relay publishing with publisher and parking records in the
// SQS queue at queueURL, through the client deadLetters makes (on first use:
// most batches park nothing). injector is the function's fault switch (nil:
// none).
func New(publisher eventbus.Publisher, deadLetters func() DeadLetters, queueURL string, injector *faults.Injector) *Relay {
	return &Relay{publisher: publisher, deadLetters: deadLetters, queueURL: queueURL, faults: injector,
		margin: margin, now: time.Now, sleep: backoff.Sleep}
}

// record is one outbox record of a batch, as far as it got.
type record struct {
	src    events.DynamoDBEventRecord
	key    string        // the outbox item's pk
	raw    string        // its events attribute, as stored
	events []event.Event // decoded; nil when the record does not decode
	unread string        // why it does not decode ("" when it does)
	// failures are its events that can never be published, by index.
	failures map[int]eventbus.Failure
}

// pending is an event on its way: which record, which of its events, and
// its span.
type pending struct {
	rec    *record
	index  int
	reason string // why its last attempt failed
	// ctx carries the event's span (span), in the trace of the code that
	// made it (startSpan).
	ctx  context.Context
	span *tracing.Span
}

// startSpan begins p's span: a span of this function in the trace of the
// code that made the event (its traceparent), annotated with what the
// event is and is about (envelope.Annotate), so that one order's journey
// shows its events being published. Every call that carries the event
// (eventbus' PublishTraced) is a child of it; it ends with the event's
// outcome in this delivery.
func (p *pending) startSpan(ctx context.Context) {
	e := p.rec.events[p.index]
	p.ctx, p.span = tracing.Invocation(ctx, envelope.TraceOf(e))
	envelope.Annotate(p.ctx, e)
}

// Handle publishes the events of a batch of stream records. It returns an
// error, and so has the batch delivered again, only when some event failed
// transiently until the time ran out, or a record could not be parked.
func (r *Relay) Handle(ctx context.Context, batch events.DynamoDBEvent) error {
	logger := log.FromContext(ctx)
	var recs []*record
	var queue []pending
	skipped := 0
	for _, src := range batch.Records {
		rec := read(src)
		if rec == nil {
			skipped++ // not an outbox insert: the filter lets none through on AWS, but a poller has none
			continue
		}
		recs = append(recs, rec)
		for i, e := range rec.events {
			p := pending{rec: rec, index: i}
			p.startSpan(ctx)
			if err := eventbus.Check(e); err != nil {
				rec.failures[i] = eventbus.Failure{Index: i, ID: e.ID(), Type: e.Type(), Permanent: true, Reason: err.Error(), Err: err}
				p.span.End(err)
				continue
			}
			queue = append(queue, p)
		}
	}

	published := 0
	deadline := r.deadline(ctx)
	for attempt := 1; len(queue) > 0; attempt++ {
		var n int
		queue, n = r.publish(ctx, queue)
		published += n
		if len(queue) == 0 {
			break
		}
		wait := backoff.Jittered(retryBackoff, maxBackoff, attempt-1)
		if deadline.Sub(r.now())-wait < r.margin {
			break
		}
		logger.LogAttrs(ctx, slog.LevelWarn, "relay: events not published yet; retrying",
			slog.Int("attempt", attempt), slog.Int("events", len(queue)), slog.String("first", queue[0].reason))
		if err := r.sleep(ctx, wait); err != nil {
			break
		}
	}

	if len(queue) > 0 {
		// The whole batch comes again. Nothing is parked now, so that a
		// record is parked once, by the delivery that publishes the rest.
		ids := make([]string, 0, len(queue))
		for _, p := range queue {
			ids = append(ids, p.rec.events[p.index].ID()+" ("+p.reason+")")
			p.span.End(fmt.Errorf("relay: not published, the batch comes again: %s", p.reason))
		}
		logger.LogAttrs(ctx, slog.LevelWarn, "relay: batch not done",
			slog.Int("records", len(batch.Records)), slog.Int("published", published), slog.Int("unpublished", len(queue)))
		return fmt.Errorf("relay: %d events not published, the batch must come again: %s", len(queue), strings.Join(ids, "; "))
	}
	if published > 0 {
		metrics.Count(metrics.EventsPublished, float64(published))
	}
	var errs []error
	parked := 0
	for _, rec := range recs {
		if rec.unread == "" && len(rec.failures) == 0 {
			continue
		}
		if err := r.park(ctx, rec); err != nil {
			errs = append(errs, err)
			continue
		}
		parked++
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "relay: batch handled",
		slog.Int("records", len(batch.Records)), slog.Int("skipped", skipped),
		slog.Int("published", published), slog.Int("parked", parked))
	return errors.Join(errs...)
}

// publish makes one attempt at queue: the fault switch, then the
// publisher. It returns what failed transiently, and how many were
// published; the span of each event published or failed for good ends.
func (r *Relay) publish(ctx context.Context, queue []pending) ([]pending, int) {
	var send, again []pending
	for _, p := range queue {
		ctx, err := r.faults.Begin(p.ctx, p.rec.events[p.index].Subject())
		if err != nil {
			p.reason = "fault switch: " + err.Error()
			again = append(again, p)
			continue
		}
		p.ctx = ctx // a crash fault ends the process once the event is published
		send = append(send, p)
	}
	if len(send) == 0 {
		return again, 0
	}
	evs := make([]eventbus.Traced, len(send))
	for i, p := range send {
		evs[i] = eventbus.Traced{Event: p.rec.events[p.index], Trace: p.ctx}
	}
	err := r.publisher.PublishTraced(ctx, evs...)
	failed := map[int]eventbus.Failure{}
	for _, f := range eventbus.Failures(err) {
		failed[f.Index] = f
	}
	published := 0
	for i, p := range send {
		f, ok := failed[i]
		switch {
		case err != nil && len(failed) == 0:
			// Not a *PublishError: nothing is known to have gone through.
			p.reason = err.Error()
			again = append(again, p)
		case !ok:
			published++
			p.span.End(nil)
			faults.Committed(p.ctx, "events:PutEvents")
		case f.Permanent:
			f.Index = p.index
			p.rec.failures[p.index] = f
			p.span.End(fmt.Errorf("relay: %s", f.Reason))
		default:
			p.reason = f.Reason
			again = append(again, p)
		}
	}
	return again, published
}

// IsOutboxInsert reports a stream record the relay is for: the insert of
// an outbox item, what outbox.FilterPattern lets through to a relay on
// Lambda (stream.Source.Filter, for the poller on Knative).
func IsOutboxInsert(rec events.DynamoDBEventRecord) bool {
	if rec.EventName != string(events.DynamoDBOperationTypeInsert) {
		return false
	}
	pk, ok := rec.Change.NewImage[store.PK]
	return ok && pk.DataType() == events.DataTypeString && strings.HasPrefix(pk.String(), outbox.KeyPrefix)
}

// read turns a stream record into an outbox record, or nil when it is not
// the insert of an outbox item.
func read(src events.DynamoDBEventRecord) *record {
	if !IsOutboxInsert(src) {
		return nil
	}
	rec := &record{src: src, key: src.Change.NewImage[store.PK].String(), failures: map[int]eventbus.Failure{}}
	attr, ok := src.Change.NewImage[outbox.AttrEvents]
	if !ok || attr.DataType() != events.DataTypeString {
		rec.unread = "the item has no events attribute of type S"
		return rec
	}
	rec.raw = attr.String()
	evs, err := outbox.Decode(rec.raw)
	if err != nil {
		rec.unread = err.Error()
		return rec
	}
	rec.events = evs
	return rec
}

// deadLetter is the body of a parked record's message.
type deadLetter struct {
	Reason string `json:"reason"`
	// Key is the outbox item's pk: the item stays in the table until its
	// ttl (outbox.TTL), where an operator finds it whole.
	Key            string `json:"key"`
	EventSourceARN string `json:"eventSourceArn"` // the stream, which names the table
	StreamEventID  string `json:"streamEventId"`
	SequenceNumber string `json:"sequenceNumber"`
	// Failures are the events that were not published, and why; the
	// record's other events were.
	Failures []deadFailure `json:"failures,omitempty"`
	// Events is the record's events attribute as stored (a JSON array of
	// structured CloudEvents), cut short when the message would exceed
	// SQS's limit (Truncated).
	Events    string `json:"events"`
	Truncated bool   `json:"truncated,omitempty"`
}

type deadFailure struct {
	Index  int    `json:"index"`
	ID     string `json:"id"`
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

// park sends rec to the dead-letter queue.
func (r *Relay) park(ctx context.Context, rec *record) error {
	dl := deadLetter{
		Key: rec.key, EventSourceARN: rec.src.EventSourceArn, StreamEventID: rec.src.EventID,
		SequenceNumber: rec.src.Change.SequenceNumber, Events: rec.raw,
	}
	if rec.unread != "" {
		dl.Reason = "the outbox record does not decode: " + rec.unread
	} else {
		dl.Reason = fmt.Sprintf("%d of its %d events can never be published", len(rec.failures), len(rec.events))
		for i := range rec.events {
			if f, ok := rec.failures[i]; ok {
				dl.Failures = append(dl.Failures, deadFailure{Index: i, ID: f.ID, Type: f.Type, Reason: f.Reason})
			}
		}
	}
	body, err := messageBody(dl)
	if err != nil {
		return fmt.Errorf("relay: park %s: %w", rec.key, err)
	}
	if _, err := r.deadLetters().SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(r.queueURL), MessageBody: aws.String(body)}); err != nil {
		return fmt.Errorf("relay: park %s in the dead-letter queue: %w", rec.key, err)
	}
	metrics.Count(metrics.DeadLettered, 1)
	log.FromContext(ctx).LogAttrs(ctx, slog.LevelError, "relay: outbox record parked in the dead-letter queue",
		slog.String("key", rec.key), slog.String("reason", dl.Reason))
	return nil
}

// messageBody is dl as an SQS message body: within SQS's size limit (the
// events cut short if need be) and of the characters SQS accepts.
func messageBody(dl deadLetter) (string, error) {
	for {
		b, err := json.Marshal(dl)
		if err != nil {
			return "", err
		}
		body := sqsSafe(string(b))
		if len(body) <= maxMessageBytes {
			return body, nil
		}
		if dl.Events == "" {
			return "", fmt.Errorf("a dead letter of %d bytes without its events", len(body))
		}
		cut := max(0, len(dl.Events)-(len(body)-maxMessageBytes)-64)
		dl.Events, dl.Truncated = strings.ToValidUTF8(dl.Events[:cut], ""), true
		if cut == 0 {
			dl.Events = ""
		}
	}
}

// sqsSafe escapes, within JSON strings, the characters an SQS message may
// not hold (it allows #x9, #xA, #xD, #x20 to #xD7FF, #xE000 to #xFFFD and
// #x10000 to #x10FFFF; encoding/json already escapes the control
// characters and replaces invalid UTF-8).
func sqsSafe(s string) string {
	if !strings.ContainsFunc(s, func(c rune) bool { return c == 0xFFFE || c == 0xFFFF }) {
		return s
	}
	var b strings.Builder
	for _, c := range s {
		if c == 0xFFFE || c == 0xFFFF {
			fmt.Fprintf(&b, `\u%04x`, c)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// deadline is ctx's deadline, or budget from now.
func (r *Relay) deadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return r.now().Add(budget)
}
