package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/cloudevents/sdk-go/v2/event"

	catalog "github.com/shop-serverless/shop/events"
	"github.com/shop-serverless/shop/shared/eventbus"
	"github.com/shop-serverless/shop/shared/faults"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/outbox"
	"github.com/shop-serverless/shop/shared/store"
	"github.com/shop-serverless/shop/shared/testenv"
	"github.com/shop-serverless/shop/shared/tracing"
)

// newEvent is the catalog example of typ with id and subject.
func newEvent(t *testing.T, typ, id, subject string) event.Event {
	t.Helper()
	raw, err := catalog.Example(typ)
	if err != nil {
		t.Fatal(err)
	}
	var ex struct {
		Source string
		Data   json.RawMessage
	}
	if err := json.Unmarshal(raw, &ex); err != nil {
		t.Fatal(err)
	}
	e, err := eventbus.New(context.Background(), eventbus.Spec{Type: typ, Source: ex.Source, Subject: subject, ID: id, Data: ex.Data})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// attr turns a DynamoDB attribute value into a stream image's.
func attr(t *testing.T, v types.AttributeValue) events.DynamoDBAttributeValue {
	t.Helper()
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value)
	}
	t.Fatalf("attribute %T", v)
	return events.DynamoDBAttributeValue{}
}

// insert is the stream record of putting item.
func insert(t *testing.T, seq int, item store.Item) events.DynamoDBEventRecord {
	t.Helper()
	img := map[string]events.DynamoDBAttributeValue{}
	for k, v := range item {
		img[k] = attr(t, v)
	}
	return events.DynamoDBEventRecord{
		EventID: fmt.Sprintf("rec-%d", seq), EventName: "INSERT", EventSource: "aws:dynamodb",
		EventSourceArn: "arn:aws:dynamodb:us-east-1:000000000000:table/test-orders/stream/2026-12-01T00:00:00.000",
		Change: events.DynamoDBStreamRecord{
			Keys:     map[string]events.DynamoDBAttributeValue{"pk": img["pk"], "sk": img["sk"]},
			NewImage: img, SequenceNumber: fmt.Sprint(100 + seq), StreamViewType: "NEW_IMAGE",
		},
	}
}

// outboxRecord is the stream record of the outbox item of evs.
func outboxRecord(t *testing.T, seq int, evs ...event.Event) events.DynamoDBEventRecord {
	t.Helper()
	op, err := outbox.Item("test-orders", evs...)
	if err != nil {
		t.Fatal(err)
	}
	return insert(t, seq, op.Put.Item)
}

// fakePublisher records every Publish call and answers from script: the
// failure, if any, of each event id on its n-th publication (1-based).
type fakePublisher struct {
	mu     sync.Mutex
	calls  [][]string
	traces map[string][]context.Context // event id -> the span context of each publication
	seen   map[string]int
	script map[string]map[int]eventbus.Failure
	err    error // returned as is, when set
}

func (p *fakePublisher) Publish(ctx context.Context, evs ...event.Event) error {
	traced := make([]eventbus.Traced, len(evs))
	for i, e := range evs {
		traced[i] = eventbus.Traced{Event: e}
	}
	return p.PublishTraced(ctx, traced...)
}

func (p *fakePublisher) PublishTraced(_ context.Context, traced ...eventbus.Traced) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen == nil {
		p.seen = map[string]int{}
		p.traces = map[string][]context.Context{}
	}
	var ids []string
	pe := &eventbus.PublishError{Total: len(traced)}
	for i, t := range traced {
		e := t.Event
		p.traces[e.ID()] = append(p.traces[e.ID()], t.Trace)
		ids = append(ids, e.ID())
		p.seen[e.ID()]++
		if f, ok := p.script[e.ID()][p.seen[e.ID()]]; ok {
			f.Index, f.ID, f.Type = i, e.ID(), e.Type()
			pe.Failures = append(pe.Failures, f)
		}
	}
	p.calls = append(p.calls, ids)
	if p.err != nil {
		return p.err
	}
	if len(pe.Failures) > 0 {
		return pe
	}
	return nil
}

// published is how often each event went through.
func (p *fakePublisher) published() map[string]int {
	out := map[string]int{}
	for id, n := range p.seen {
		fails := 0
		for try := 1; try <= n; try++ {
			if _, ok := p.script[id][try]; ok {
				fails++
			}
		}
		if n-fails > 0 {
			out[id] = n - fails
		}
	}
	return out
}

type fakeQueue struct {
	mu     sync.Mutex
	bodies []string
	err    error
}

func (q *fakeQueue) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return nil, q.err
	}
	q.bodies = append(q.bodies, aws.ToString(in.MessageBody))
	return &sqs.SendMessageOutput{MessageId: aws.String("m")}, nil
}

func (q *fakeQueue) letters(t *testing.T) []deadLetter {
	t.Helper()
	var out []deadLetter
	for _, b := range q.bodies {
		var dl deadLetter
		if err := json.Unmarshal([]byte(b), &dl); err != nil {
			t.Fatalf("dead letter %s: %v", b, err)
		}
		out = append(out, dl)
	}
	return out
}

// clock is a fake clock whose sleeps advance it, so a test of the time
// budget runs at once.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }
func (c *clock) sleep(_ context.Context, d time.Duration) error {
	c.t = c.t.Add(d)
	return nil
}

func newRelay(pub eventbus.Publisher, q *fakeQueue, injector *faults.Injector) (*Relay, *clock) {
	c := &clock{t: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	r := New(pub, func() DeadLetters { return q }, "http://queue.test/dlq", injector)
	r.now, r.sleep = c.now, c.sleep
	return r, c
}

// ctxUntil is a context whose deadline is d after the fake clock's now.
func ctxUntil(t *testing.T, c *clock, d time.Duration) context.Context {
	t.Helper()
	// The deadline is compared with the fake clock only; the real context
	// never expires during the test.
	ctx, cancel := context.WithDeadline(context.Background(), c.now().Add(d))
	t.Cleanup(cancel)
	return deadlineOnly{ctx}
}

// deadlineOnly reports its parent's deadline but never ends (the fake
// clock's deadline lies in the past of the real one).
type deadlineOnly struct{ context.Context }

func (deadlineOnly) Done() <-chan struct{} { return nil }
func (deadlineOnly) Err() error            { return nil }

func TestRelayPublishesEveryOutboxEventAndSkipsTheRest(t *testing.T) {
	pub, q := &fakePublisher{}, &fakeQueue{}
	r, _ := newRelay(pub, q, nil)
	other := insert(t, 9, store.Item{"pk": store.S("ORDER#o-1"), "sk": store.S("STATE")})
	removed := outboxRecord(t, 8, newEvent(t, "shop.order.created.v1", "gone", "o-0"))
	removed.EventName = "REMOVE"
	batch := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		outboxRecord(t, 1, newEvent(t, "shop.inventory.reserved.v1", "a1", "o-1"), newEvent(t, "shop.inventory.stock.low.v1", "a2", "p-1")),
		other, removed,
		outboxRecord(t, 2, newEvent(t, "shop.order.confirmed.v1", "b1", "o-2")),
	}}
	if err := r.Handle(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"a1", "a2", "b1"}}; !reflect.DeepEqual(pub.calls, want) {
		t.Errorf("published %v, want %v", pub.calls, want)
	}
	if len(q.bodies) != 0 {
		t.Errorf("parked %v", q.bodies)
	}
}

func TestRelayRetriesOnlyWhatFailedTransiently(t *testing.T) {
	transient := eventbus.Failure{Reason: "ThrottlingException"}
	pub := &fakePublisher{script: map[string]map[int]eventbus.Failure{
		"a2": {1: transient, 2: transient},
		"b1": {1: transient},
	}}
	r, c := newRelay(pub, &fakeQueue{}, nil)
	batch := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		outboxRecord(t, 1, newEvent(t, "shop.inventory.reserved.v1", "a1", "o-1"), newEvent(t, "shop.inventory.stock.low.v1", "a2", "p-1")),
		outboxRecord(t, 2, newEvent(t, "shop.order.confirmed.v1", "b1", "o-2")),
	}}
	start := c.now()
	if err := r.Handle(ctxUntil(t, c, time.Minute), batch); err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"a1", "a2", "b1"}, {"a2", "b1"}, {"a2"}}; !reflect.DeepEqual(pub.calls, want) {
		t.Errorf("calls %v, want %v", pub.calls, want)
	}
	if waited := c.now().Sub(start); waited < 150*time.Millisecond || waited > time.Second {
		t.Errorf("waited %v between attempts, want a short backoff", waited)
	}
}

// A bus that stays down: the relay retries until its margin before the
// deadline, then fails the batch (to come again) and parks nothing.
func TestRelayGivesTheBatchBackWhenTimeRunsOut(t *testing.T) {
	down := &fakePublisher{err: errors.New("connection refused")}
	q := &fakeQueue{}
	r, c := newRelay(down, q, nil)
	bad := newEvent(t, "shop.order.confirmed.v1", "bad", "o-3")
	bad.SetDataSchema("urn:shop:event:other") // permanent: but parked only once the batch is done
	batch := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		outboxRecord(t, 1, newEvent(t, "shop.order.confirmed.v1", "a1", "o-1")),
		insertRaw(t, 2, "OUTBOX#bad", mustEvents(t, bad)),
	}}
	start := c.now()
	err := r.Handle(ctxUntil(t, c, 60*time.Second), batch)
	if err == nil || !strings.Contains(err.Error(), "a1") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Handle = %v, want an error naming a1 and why", err)
	}
	if used := c.now().Sub(start); used < 50*time.Second || used > 55*time.Second {
		t.Errorf("retried for %v of a 60 s budget with a %v margin", used, margin)
	}
	if len(down.calls) < 5 {
		t.Errorf("only %d attempts", len(down.calls))
	}
	if len(q.bodies) != 0 {
		t.Errorf("parked while the batch must come again: %v", q.bodies)
	}
}

// insertRaw is the stream record of an outbox item with the events
// attribute body, written by hand (what outbox.Item would refuse).
func insertRaw(t *testing.T, seq int, key, body string) events.DynamoDBEventRecord {
	t.Helper()
	return insert(t, seq, store.Item{"pk": store.S(key), "sk": store.S(outbox.SortKey), "events": store.S(body), "ttl": store.N(1)})
}

func mustEvents(t *testing.T, evs ...event.Event) string {
	t.Helper()
	b, err := json.Marshal(evs)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRelayParksWhatCanNeverBePublished(t *testing.T) {
	pub := &fakePublisher{script: map[string]map[int]eventbus.Failure{
		"c2": {1: {Permanent: true, Reason: "MalformedDetail: bad"}},
	}}
	q := &fakeQueue{}
	r, _ := newRelay(pub, q, nil)
	invalid := newEvent(t, "shop.order.confirmed.v1", "b2", "o-2")
	invalid.SetDataSchema("urn:shop:event:other")
	bEvents := mustEvents(t, newEvent(t, "shop.order.cancelled.v1", "b1", "o-2"), invalid)
	batch := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		outboxRecord(t, 1, newEvent(t, "shop.order.confirmed.v1", "a1", "o-1")),
		insertRaw(t, 2, "OUTBOX#b1", bEvents),
		insertRaw(t, 3, "OUTBOX#x", `{"not":"a list"}`),
		insert(t, 4, store.Item{"pk": store.S("OUTBOX#y"), "sk": store.S("OUTBOX")}),
		outboxRecord(t, 5, newEvent(t, "shop.payment.charged.v1", "c1", "o-5"), newEvent(t, "shop.payment.refunded.v1", "c2", "o-5")),
	}}
	if err := r.Handle(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if got := pub.published(); !reflect.DeepEqual(got, map[string]int{"a1": 1, "b1": 1, "c1": 1}) {
		t.Errorf("published %v", got)
	}
	letters := q.letters(t)
	if len(letters) != 4 {
		t.Fatalf("%d dead letters, want 4: %v", len(letters), q.bodies)
	}
	b, x, y, c := letters[0], letters[1], letters[2], letters[3]
	if b.Key != "OUTBOX#b1" || len(b.Failures) != 1 || b.Failures[0].ID != "b2" || b.Failures[0].Index != 1 ||
		!strings.Contains(b.Failures[0].Reason, "dataschema") || b.Events != bEvents ||
		b.StreamEventID != "rec-2" || b.SequenceNumber != "102" || !strings.Contains(b.EventSourceARN, "table/test-orders/stream") {
		t.Errorf("dead letter of b: %+v", b)
	}
	if x.Key != "OUTBOX#x" || !strings.Contains(x.Reason, "does not decode") || x.Events != `{"not":"a list"}` {
		t.Errorf("dead letter of x: %+v", x)
	}
	if y.Key != "OUTBOX#y" || !strings.Contains(y.Reason, "no events attribute") {
		t.Errorf("dead letter of y: %+v", y)
	}
	if c.Key != "OUTBOX#c1" || len(c.Failures) != 1 || c.Failures[0].ID != "c2" || c.Failures[0].Index != 1 || !strings.Contains(c.Failures[0].Reason, "MalformedDetail") {
		t.Errorf("dead letter of c: %+v", c)
	}
}

func TestRelayFailsTheBatchWhenItCannotPark(t *testing.T) {
	q := &fakeQueue{err: errors.New("queue unavailable")}
	r, _ := newRelay(&fakePublisher{}, q, nil)
	err := r.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{insertRaw(t, 1, "OUTBOX#x", "[")}})
	if err == nil || !strings.Contains(err.Error(), "OUTBOX#x") || !strings.Contains(err.Error(), "queue unavailable") {
		t.Errorf("Handle = %v", err)
	}
}

func TestDeadLetterFitsAnSQSMessage(t *testing.T) {
	huge := strings.Repeat("é", 200*1024) // 400 KiB of UTF-8
	body, err := messageBody(deadLetter{Reason: "r", Key: "OUTBOX#k", Events: huge})
	if err != nil {
		t.Fatal(err)
	}
	var dl deadLetter
	if err := json.Unmarshal([]byte(body), &dl); err != nil {
		t.Fatal(err)
	}
	if len(body) > maxMessageBytes || !dl.Truncated || !strings.HasPrefix(huge, dl.Events) || len(dl.Events) < 200*1024 {
		t.Errorf("body of %d bytes, truncated %v, events %d bytes", len(body), dl.Truncated, len(dl.Events))
	}
	small, _ := messageBody(deadLetter{Key: "k", Events: "[\uffff]"})
	if strings.ContainsRune(small, 0xFFFF) || !strings.Contains(small, `\uffff`) {
		t.Errorf("body %q holds a character SQS refuses", small)
	}
	if err := json.Unmarshal([]byte(small), &dl); err != nil || dl.Events != "[\uffff]" {
		t.Errorf("escaped events decode as %q, %v", dl.Events, err)
	}
}

// faultDB is the fault switch's table: a keyed error fault for key that
// holds for the first n reads.
type faultDB struct {
	store.DB
	mu    sync.Mutex
	key   string
	n     int
	reads int
}

func (f *faultDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sk := in.Key["sk"].(*types.AttributeValueMemberS).Value
	if sk != "KEY#"+f.key {
		return &dynamodb.GetItemOutput{}, nil
	}
	f.reads++
	if f.reads > f.n {
		return &dynamodb.GetItemOutput{}, nil
	}
	return &dynamodb.GetItemOutput{Item: store.Item{"mode": store.S(faults.ModeError), "status": store.N(503), "key": store.S(f.key)}}, nil
}

// The fault switch, keyed by an event's subject, fails that event between
// commit and publish: it is retried, and published once the fault is gone;
// the batch's other events are not held back.
func TestRelayFaultSwitch(t *testing.T) {
	t.Setenv(faults.EnvSwitch, "1")
	db := &faultDB{key: "o-1", n: 3}
	pub := &fakePublisher{}
	r, c := newRelay(pub, &fakeQueue{}, faults.New(db, "test-orders", "orders-relay"))
	batch := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		outboxRecord(t, 1, newEvent(t, "shop.order.created.v1", "a1", "o-1")),
		outboxRecord(t, 2, newEvent(t, "shop.order.created.v1", "b1", "o-2")),
	}}
	if err := r.Handle(ctxUntil(t, c, time.Minute), batch); err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"b1"}, {"a1"}}; !reflect.DeepEqual(pub.calls, want) {
		t.Errorf("calls %v, want %v (a1 held by the fault three times)", pub.calls, want)
	}
	if db.reads != 4 {
		t.Errorf("switch read %d times for o-1, want 4", db.reads)
	}
}

// Every event is published from a span of its own in the trace of the code
// that made it (its traceparent), the same span on every retry of the
// delivery; the relay's own context is not what an event carries.
func TestRelayPublishesEachEventInItsOwnTrace(t *testing.T) {
	transient := eventbus.Failure{Reason: "ThrottlingException"}
	pub := &fakePublisher{script: map[string]map[int]eventbus.Failure{"a2": {1: transient}}}
	r, _ := newRelay(pub, &fakeQueue{}, nil)
	a1, a2 := newEvent(t, "shop.inventory.reserved.v1", "a1", "o-1"), newEvent(t, "shop.order.confirmed.v1", "a2", "o-2")
	tps := map[string]string{
		"a1": "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
		"a2": "00-6759e988bd862e3fe1be46a994272793-63995c3f42cd8ad8-01",
	}
	a1.SetExtension(eventbus.ExtTraceParent, tps["a1"])
	a2.SetExtension(eventbus.ExtTraceParent, tps["a2"])
	b1 := newEvent(t, "shop.order.confirmed.v1", "b1", "o-3") // made outside any span
	batch := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{outboxRecord(t, 1, a1, a2), outboxRecord(t, 2, b1)}}
	ctx, span := tracing.Invocation(context.Background(), "Root=1-7759e988-bd862e3fe1be46a994272793;Parent=73995c3f42cd8ad8;Sampled=1")
	defer span.End(nil)
	if err := r.Handle(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if n := len(pub.traces["a2"]); n != 2 {
		t.Fatalf("a2 published %d times, want 2", n)
	}
	if pub.traces["a2"][0] != pub.traces["a2"][1] {
		t.Error("a2's retry is published from another span")
	}
	seen := map[string]string{}
	for id, ctxs := range pub.traces {
		h := tracing.Header(ctxs[0])
		if h == "" || h == tracing.Header(ctx) {
			t.Fatalf("%s published without a span of its own", id)
		}
		if other, dup := seen[h]; dup {
			t.Errorf("%s and %s published from one span", id, other)
		}
		seen[h] = id
		if tps[id] == "" {
			continue // no trace of its own: on Lambda a part of the invocation's, here a new one
		}
		if want := tracing.FromTraceParent(tps[id]); traceRoot(h) != traceRoot(want) {
			t.Errorf("%s published in trace %q, want %q's", id, h, want)
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

func TestEnvNameMatchesTheManifest(t *testing.T) {
	if EnvDeadLetterQueueURL != manifest.EnvDeadLetterQueueURL {
		t.Errorf("%s, manifest says %s", EnvDeadLetterQueueURL, manifest.EnvDeadLetterQueueURL)
	}
}

// Every relay links this package: no CloudEvents client (a logging stack),
// no manifest loader, and no validator that compiles metaschemas in its
// package init (events/explain's: the relay checks with the catalog's).
func TestLinksNoCloudEventsClientNorMetaschemaCompiler(t *testing.T) {
	testenv.ForbidDeps(t, "github.com/shop-serverless/shop/shared/outbox/relay",
		"github.com/cloudevents/sdk-go/v2/client", "github.com/cloudevents/sdk-go/v2/protocol", "go.uber.org/zap",
		"github.com/shop-serverless/shop/shared/manifest",
		"github.com/shop-serverless/shop/events/explain", "github.com/santhosh-tekuri/jsonschema")
}
