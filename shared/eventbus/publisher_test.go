package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/shared/tracing"
)

// fastRetry keeps the tests' backoff short.
var fastRetry = Retry{Attempts: 3, Backoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}

// fakeBus answers PutEvents from a script: fail[attempt][event id] is the
// error code the entry of that event gets on that call (counted per event).
type fakeBus struct {
	mu      sync.Mutex
	calls   [][]types.PutEventsRequestEntry
	tries   map[string]int            // event id -> calls that carried it
	codes   map[string]map[int]string // event id -> try -> error code
	callErr error
}

func (f *fakeBus) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in.Entries)
	if f.callErr != nil {
		return nil, f.callErr
	}
	if f.tries == nil {
		f.tries = map[string]int{}
	}
	out := &eventbridge.PutEventsOutput{}
	for _, en := range in.Entries {
		var head struct{ ID string }
		_ = json.Unmarshal([]byte(*en.Detail), &head)
		f.tries[head.ID]++
		if code := f.codes[head.ID][f.tries[head.ID]]; code != "" {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, types.PutEventsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("scripted")})
			continue
		}
		out.Entries = append(out.Entries, types.PutEventsResultEntry{EventId: aws.String("eb-" + head.ID)})
	}
	return out, nil
}

func (f *fakeBus) publisher() *EventBridge {
	return NewEventBridge("test-bus", func() PutEventsAPI { return f }).WithRetry(fastRetry)
}

// events makes n valid events with distinct ids e0, e1, ...
func events(t *testing.T, n int) []event.Event {
	t.Helper()
	out := make([]event.Event, n)
	for i := range out {
		s, _ := example(t, "shop.payment.charged.v1")
		s.ID = fmt.Sprintf("e%d", i)
		e, err := New(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = e
	}
	return out
}

func detailIDs(entries []types.PutEventsRequestEntry) []string {
	ids := []string{}
	for _, en := range entries {
		var head struct{ ID string }
		_ = json.Unmarshal([]byte(*en.Detail), &head)
		ids = append(ids, head.ID)
	}
	return ids
}

// traceHeader is the X-Ray trace header of a trace of its own for the
// i-th event.
func traceHeader(i int) string {
	return fmt.Sprintf("Root=1-5759e988-%024x;Parent=53995c3f42cd8ad8;Sampled=1", i+1)
}

// root is the Root field of an X-Ray trace header.
func root(header string) string {
	for _, f := range strings.Split(header, ";") {
		if v, ok := strings.CutPrefix(f, "Root="); ok {
			return v
		}
	}
	return ""
}

// tracedEvents gives each event a span of its own, in a trace of its own.
func tracedEvents(t *testing.T, evs []event.Event) []Traced {
	t.Helper()
	out := make([]Traced, len(evs))
	for i, e := range evs {
		ctx, span := tracing.Invocation(context.Background(), traceHeader(i))
		t.Cleanup(func() { span.End(nil) })
		out[i] = Traced{Event: e, Trace: ctx}
	}
	return out
}

// checkCallHeader checks that an entry's trace header is that of a call
// span in the event's own trace, a child of the event's span: its Root,
// and another Parent than the event span's header names.
func checkCallHeader(t *testing.T, what string, got *string, tr Traced) {
	t.Helper()
	own := tracing.Header(tr.Trace)
	if own == "" || got == nil || root(*got) != root(own) || *got == own {
		t.Errorf("%s: TraceHeader %v, want a child of the event's span %q", what, aws.ToString(got), own)
	}
}

// Each entry carries a child of its own event's span, in batches of ten.
func TestEventBridgeSendsBatchesOfTen(t *testing.T) {
	bus := &fakeBus{}
	evs := events(t, 23)
	traced := tracedEvents(t, evs)
	ctx, batchSpan := tracing.Invocation(context.Background(), "")
	defer batchSpan.End(nil)
	if err := bus.publisher().PublishTraced(ctx, traced...); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, c := range bus.calls {
		sizes = append(sizes, len(c))
	}
	if !reflect.DeepEqual(sizes, []int{10, 10, 3}) {
		t.Fatalf("batches of %v, want [10 10 3]", sizes)
	}
	en := bus.calls[0][0]
	if *en.EventBusName != "test-bus" || *en.Source != "shop.payments" || *en.DetailType != "shop.payment.charged.v1" || *en.Detail != string(mustJSON(t, evs[0])) {
		t.Errorf("first entry %+v", en)
	}
	i := 0
	for _, c := range bus.calls {
		for _, en := range c {
			checkCallHeader(t, fmt.Sprintf("entry %d", i), en.TraceHeader, traced[i])
			i++
		}
	}
}

// An entry sent again is sent from a new call span.
func TestEventBridgeRetriesInANewCallSpan(t *testing.T) {
	bus := &fakeBus{codes: map[string]map[int]string{"e0": {1: "ThrottlingException"}}}
	evs := events(t, 1)
	traced := tracedEvents(t, evs)
	if err := bus.publisher().PublishTraced(context.Background(), traced...); err != nil {
		t.Fatal(err)
	}
	if len(bus.calls) != 2 {
		t.Fatalf("%d calls, want 2", len(bus.calls))
	}
	first, second := bus.calls[0][0].TraceHeader, bus.calls[1][0].TraceHeader
	checkCallHeader(t, "first call", first, traced[0])
	checkCallHeader(t, "second call", second, traced[0])
	if first != nil && second != nil && *first == *second {
		t.Errorf("both calls carried %q", *first)
	}
}

// Publish gives each entry the trace of the span that made its event (its
// traceparent), whatever the caller's context, and none to an event
// without one.
func TestEventBridgeEntriesCarryTheirEventsTrace(t *testing.T) {
	bus := &fakeBus{}
	evs := events(t, 2)
	const tp = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"
	evs[0].SetExtension(ExtTraceParent, tp)
	ctx, span := tracing.Invocation(context.Background(), traceHeader(99))
	defer span.End(nil)
	if err := bus.publisher().Publish(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	want := tracing.FromTraceParent(tp)
	if want != "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1" {
		t.Fatalf("FromTraceParent(%s) = %q", tp, want)
	}
	if got := aws.ToString(bus.calls[0][0].TraceHeader); got != want {
		t.Errorf("event with a traceparent: TraceHeader %q, want %q", got, want)
	}
	if got := bus.calls[0][1].TraceHeader; got != nil {
		t.Errorf("event without a traceparent: TraceHeader %q, want none (not the caller's)", *got)
	}
}

func TestEventBridgeBatchesWithinTheSizeLimit(t *testing.T) {
	bus := &fakeBus{}
	big := MaxEntryBytes / 3
	var evs []event.Event
	for i := range 4 {
		e := bigEvent(t, big)
		e.SetID(fmt.Sprintf("big%d", i))
		evs = append(evs, e)
	}
	if err := bus.publisher().Publish(context.Background(), evs...); err != nil {
		t.Fatal(err)
	}
	if len(bus.calls) != 2 || len(bus.calls[0]) != 3 || len(bus.calls[1]) != 1 {
		t.Errorf("calls %d: %v", len(bus.calls), bus.calls)
	}
}

func TestEventBridgeRetriesOnlyTheFailedEntries(t *testing.T) {
	bus := &fakeBus{codes: map[string]map[int]string{
		"e1": {1: "ThrottlingException"},                                         // fails once, then goes through
		"e3": {1: "InternalFailure", 2: "InternalFailure"},                       // twice, then through
		"e4": {1: "MalformedDetail"},                                             // permanent: never again
		"e6": {1: "InternalFailure", 2: "InternalFailure", 3: "InternalFailure"}, // every attempt
	}}
	evs := events(t, 8)
	err := bus.publisher().Publish(context.Background(), evs...)

	var calls [][]string
	for _, c := range bus.calls {
		calls = append(calls, detailIDs(c))
	}
	want := [][]string{{"e0", "e1", "e2", "e3", "e4", "e5", "e6", "e7"}, {"e1", "e3", "e6"}, {"e3", "e6"}}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("calls %v, want %v", calls, want)
	}
	fs := Failures(err)
	if len(fs) != 2 || fs[0].ID != "e4" || fs[0].Index != 4 || !fs[0].Permanent || fs[1].ID != "e6" || fs[1].Index != 6 || fs[1].Permanent {
		t.Fatalf("failures %+v", fs)
	}
	if !strings.Contains(fs[0].Reason, "MalformedDetail") || !strings.Contains(fs[1].Reason, "InternalFailure") || !strings.Contains(fs[1].Reason, "3 attempts") {
		t.Errorf("reasons %q, %q", fs[0].Reason, fs[1].Reason)
	}
	if IsPermanent(err) {
		t.Error("IsPermanent with a transient failure among them")
	}
	var pe *PublishError
	if !errors.As(err, &pe) || pe.Total != 8 || !strings.Contains(err.Error(), "2 of 8 events not published") {
		t.Errorf("error %v", err)
	}
}

func TestEventBridgeChecksBeforeSending(t *testing.T) {
	bus := &fakeBus{}
	evs := events(t, 3)
	broken := evs[1].Clone()
	broken.SetDataSchema("urn:shop:event:other") // the schema fixes dataschema
	evs[1] = broken
	evs = append(evs, bigEvent(t, MaxEntryBytes+1))
	err := bus.publisher().Publish(context.Background(), evs...)
	if got := detailIDs(bus.calls[0]); len(bus.calls) != 1 || !reflect.DeepEqual(got, []string{"e0", "e2"}) {
		t.Errorf("sent %v", got)
	}
	if !IsPermanent(err) || !errors.Is(err, ErrInvalid) || len(Failures(err)) != 2 {
		t.Errorf("Publish = %v, want two permanent ErrInvalid failures", err)
	}
}

func TestEventBridgeCallErrorIsTransient(t *testing.T) {
	bus := &fakeBus{callErr: errors.New("connection reset")}
	err := bus.publisher().Publish(context.Background(), events(t, 2)...)
	fs := Failures(err)
	if len(fs) != 2 || fs[0].Permanent || !strings.Contains(fs[0].Reason, "connection reset") || IsPermanent(err) {
		t.Errorf("failures %+v", fs)
	}
	if len(bus.calls) != 1 {
		t.Errorf("%d calls: the SDK retries a failed call, the publisher must not again", len(bus.calls))
	}
}

func TestEventBridgeStopsRetryingWhenTheContextEnds(t *testing.T) {
	bus := &fakeBus{codes: map[string]map[int]string{"e0": {1: "InternalFailure"}}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := bus.publisher().WithRetry(Retry{Attempts: 5, Backoff: time.Hour, MaxBackoff: time.Hour})
	err := p.Publish(ctx, events(t, 1)...)
	if fs := Failures(err); len(fs) != 1 || fs[0].Permanent || !errors.Is(err, context.Canceled) {
		t.Errorf("Publish = %v", err)
	}
}

func TestIsPermanent(t *testing.T) {
	if IsPermanent(nil) || IsPermanent(errors.New("x")) || IsPermanent(&PublishError{}) {
		t.Error("IsPermanent without failures")
	}
	if !IsPermanent(fmt.Errorf("relay: %w", &PublishError{Failures: []Failure{{Permanent: true}}})) {
		t.Error("IsPermanent through wrapping")
	}
}

// sinkServer answers each POST with the next status of a script (200 when
// it runs out) and records what it received.
type sinkServer struct {
	mu       sync.Mutex
	statuses []int
	bodies   []string
	types    []string
	traces   []string
}

func (s *sinkServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bodies = append(s.bodies, string(b))
	s.types = append(s.types, r.Header.Get("Content-Type"))
	s.traces = append(s.traces, r.Header.Get(tracing.HeaderName))
	status := http.StatusAccepted
	if len(s.statuses) > 0 {
		status, s.statuses = s.statuses[0], s.statuses[1:]
	}
	w.WriteHeader(status)
}

func TestSinkPostsStructuredEvents(t *testing.T) {
	srv := &sinkServer{statuses: []int{http.StatusServiceUnavailable, http.StatusAccepted, http.StatusBadRequest}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	sink, err := NewSink(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	evs := events(t, 2)
	traced := tracedEvents(t, evs)
	err = sink.WithRetry(fastRetry).PublishTraced(context.Background(), traced...)
	// e0: 503 then 202; e1: 400, permanent at once.
	if len(srv.bodies) != 3 || srv.bodies[0] != string(mustJSON(t, evs[0])) || srv.bodies[1] != srv.bodies[0] || srv.bodies[2] != string(mustJSON(t, evs[1])) {
		t.Errorf("bodies %v", srv.bodies)
	}
	if srv.types[0] != "application/cloudevents+json; charset=utf-8" {
		t.Errorf("content type %q", srv.types[0])
	}
	for i, tr := range []Traced{traced[0], traced[0], traced[1]} {
		var got *string
		if srv.traces[i] != "" {
			got = &srv.traces[i]
		}
		checkCallHeader(t, fmt.Sprintf("POST %d", i), got, tr)
	}
	fs := Failures(err)
	if len(fs) != 1 || fs[0].ID != "e1" || !fs[0].Permanent || !strings.Contains(fs[0].Reason, "400") {
		t.Errorf("failures %+v", fs)
	}
}

func TestSinkGivesUpTransientlyAfterItsAttempts(t *testing.T) {
	srv := &sinkServer{statuses: []int{500, 500, 500, 500}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	sink, _ := NewSink(ts.URL)
	err := sink.WithRetry(fastRetry).Publish(context.Background(), events(t, 1)...)
	if fs := Failures(err); len(fs) != 1 || fs[0].Permanent || len(srv.bodies) != fastRetry.Attempts {
		t.Errorf("failures %+v after %d posts", fs, len(srv.bodies))
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv(EnvEventBus, "")
	t.Setenv(EnvSink, "")
	if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), "nowhere to publish") {
		t.Errorf("FromEnv with neither: %v", err)
	}
	t.Setenv(EnvSink, "http://broker-ingress.knative-eventing.svc.cluster.local/shop/default")
	if p, err := FromEnv(); err != nil || reflect.TypeOf(p) != reflect.TypeOf(&Sink{}) {
		t.Errorf("FromEnv with K_SINK: %T, %v", p, err)
	}
	t.Setenv(EnvEventBus, "shop-events")
	p, err := FromEnv()
	eb, ok := p.(*EventBridge)
	if err != nil || !ok || eb.bus != "shop-events" {
		t.Errorf("FromEnv with a bus: %T, %v", p, err)
	}
	t.Setenv(EnvEventBus, "")
	t.Setenv(EnvSink, "/relative")
	if _, err := FromEnv(); err == nil {
		t.Error("FromEnv with a relative sink")
	}
}
