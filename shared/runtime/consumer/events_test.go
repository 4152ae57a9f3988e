package consumer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	catalog "github.com/shop-serverless/shop/events"
	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/runtime"
)

const orderCreated = "shop.order.created.v1"

// catalogEvent is the catalog's example of eventType with id, edited by
// each edit (a function of the decoded JSON object): a structured
// CloudEvent as producers put it in EventBridge's detail.
func catalogEvent(t testing.TB, eventType, id string, edits ...func(map[string]any)) string {
	t.Helper()
	raw, err := catalog.Example(eventType)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	doc["id"] = id
	for _, edit := range edits {
		edit(doc)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// created is an order.created event with id.
func created(t testing.TB, id string) string { return catalogEvent(t, orderCreated, id) }

// envelope wraps a structured CloudEvent the way EventBridge delivers it:
// its source and detail-type are the event's (order.created's when the
// detail does not say).
func envelope(detail string) string {
	head := struct{ Source, Type string }{"shop.orders", orderCreated}
	_ = json.Unmarshal([]byte(detail), &head)
	return envelopeAs(head.Source, head.Type, detail)
}

// envelopeAs is envelope with the source and detail-type given.
func envelopeAs(source, detailType, detail string) string {
	return `{"version":"0","id":"eb-1","detail-type":"` + detailType + `","source":"` + source + `","account":"000000000000",` +
		`"time":"2025-01-02T03:04:05Z","region":"eu-west-1","resources":[],"detail":` + detail + `}`
}

// recordingHandler records the events it sees and fails those whose id is in
// failIDs with a *handlerFailure (a Permanent one for permanentIDs).
type recordingHandler struct {
	mu           sync.Mutex
	seen         []event.Event
	failIDs      map[string]bool
	permanentIDs map[string]bool
}

type handlerFailure struct{ id string }

func (e *handlerFailure) Error() string { return "handler failed on " + e.id }

func (h *recordingHandler) handle(_ context.Context, e event.Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen = append(h.seen, e)
	if h.permanentIDs[e.ID()] {
		return Permanent(&handlerFailure{id: e.ID()})
	}
	if h.failIDs[e.ID()] {
		return &handlerFailure{id: e.ID()}
	}
	return nil
}

func (h *recordingHandler) seenIDs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := []string{}
	for _, e := range h.seen {
		ids = append(ids, e.ID())
	}
	return ids
}

func sqsBatch(bodies ...string) events.SQSEvent {
	var batch events.SQSEvent
	for i, body := range bodies {
		batch.Records = append(batch.Records, events.SQSMessage{
			MessageId: fmt.Sprintf("m%d", i+1), ReceiptHandle: fmt.Sprintf("r%d", i+1), Body: body, EventSource: "aws:sqs",
			Attributes: map[string]string{"ApproximateReceiveCount": "1"},
		})
	}
	return batch
}

func failedIDs(resp events.SQSEventResponse) []string {
	ids := []string{}
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

// fakeSQS records ChangeMessageVisibility calls.
type fakeSQS struct {
	mu    sync.Mutex
	calls []sqs.ChangeMessageVisibilityInput
	err   error
}

func (f *fakeSQS) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, *in)
	return &sqs.ChangeMessageVisibilityOutput{}, f.err
}

// visibilities returns receipt handle -> visibility timeout set.
func (f *fakeSQS) visibilities() map[string]int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int32{}
	for _, c := range f.calls {
		if aws.ToString(c.QueueUrl) != "https://queue.test/q" {
			panic("wrong queue " + aws.ToString(c.QueueUrl))
		}
		out[aws.ToString(c.ReceiptHandle)] = c.VisibilityTimeout
	}
	return out
}

func newBackoff(f *fakeSQS) *Backoff {
	return NewBackoff("https://queue.test/q", func() VisibilityAPI { return f })
}

func TestSQSReportsOnlyFailedRecordsAndBacksThemOff(t *testing.T) {
	unknownType := catalogEvent(t, orderCreated, "e9", func(d map[string]any) { d["type"] = "shop.order.shipped.v1" })
	badSchema := catalogEvent(t, orderCreated, "e8", func(d map[string]any) {
		d["data"].(map[string]any)["items"].([]any)[0].(map[string]any)["quantity"] = 0
	})
	tests := []struct {
		name           string
		batch          events.SQSEvent
		failIDs        map[string]bool
		permanentIDs   map[string]bool
		cancelled      bool
		wantFailed     []string
		wantSeen       []string
		wantPoison     []string // receipt handles made visible at once
		wantBackedOff  []string // receipt handles delayed
		wantNoBackoffs bool
	}{
		{
			name: "one good, one handler error, one undecodable",
			batch: sqsBatch(
				envelope(created(t, "e1")),
				envelope(created(t, "e2")),
				`{"detail-type":"shop.order.created.v1","detail":{"specversion":`,
			),
			failIDs:       map[string]bool{"e2": true},
			wantFailed:    []string{"m2", "m3"},
			wantSeen:      []string{"e1", "e2"},
			wantBackedOff: []string{"r2"},
			wantPoison:    []string{"r3"},
		},
		{
			name:          "a CloudEvent without an id is poison and never reaches the handler",
			batch:         sqsBatch(envelope(catalogEvent(t, orderCreated, "x", func(d map[string]any) { delete(d, "id") })), envelope(created(t, "e2"))),
			wantFailed:    []string{"m1"},
			wantSeen:      []string{"e2"},
			wantPoison:    []string{"r1"},
			wantBackedOff: []string{},
		},
		{
			name:          "a type the catalog does not know, and data against its schema, are poison",
			batch:         sqsBatch(envelope(unknownType), envelope(badSchema), envelope(created(t, "e3"))),
			wantFailed:    []string{"m1", "m2"},
			wantSeen:      []string{"e3"},
			wantPoison:    []string{"r1", "r2"},
			wantBackedOff: []string{},
		},
		{
			name: "an envelope that does not say what its event says is poison",
			batch: sqsBatch(
				envelopeAs("shop.users", "shop.user.updated.v1", created(t, "e1")),
				envelopeAs("com.example.elsewhere", orderCreated, created(t, "e2")),
				envelope(created(t, "e3")),
			),
			wantFailed:    []string{"m1", "m2"},
			wantSeen:      []string{"e3"},
			wantPoison:    []string{"r1", "r2"},
			wantBackedOff: []string{},
		},
		{
			name:          "a handler's permanent error is backed off like poison",
			batch:         sqsBatch(envelope(created(t, "e1"))),
			permanentIDs:  map[string]bool{"e1": true},
			wantFailed:    []string{"m1"},
			wantSeen:      []string{"e1"},
			wantPoison:    []string{"r1"},
			wantBackedOff: []string{},
		},
		{
			name: "envelope without detail, and bodies that are neither shape",
			batch: sqsBatch(
				`{"version":"0","detail-type":"shop.order.created.v1","source":"shop.orders"}`,
				`{"detail-type":"shop.order.created.v1","detail":null}`,
				`{"hello":"world"}`,
				`plain text`,
			),
			wantFailed:    []string{"m1", "m2", "m3", "m4"},
			wantSeen:      []string{},
			wantPoison:    []string{"r1", "r2", "r3", "r4"},
			wantBackedOff: []string{},
		},
		{
			name:           "bare structured CloudEvent in the queue",
			batch:          sqsBatch(created(t, "e1")),
			wantFailed:     []string{},
			wantSeen:       []string{"e1"},
			wantNoBackoffs: true,
		},
		{
			name:           "deadline passed: everything handed back, nothing started, visibility left alone",
			batch:          sqsBatch(envelope(created(t, "e1")), envelope(created(t, "e2"))),
			cancelled:      true,
			wantFailed:     []string{"m1", "m2"},
			wantSeen:       []string{},
			wantNoBackoffs: true,
		},
		{
			name:           "empty batch",
			batch:          events.SQSEvent{},
			wantFailed:     []string{},
			wantSeen:       []string{},
			wantNoBackoffs: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordingHandler{failIDs: tt.failIDs, permanentIDs: tt.permanentIDs}
			q := &fakeSQS{}
			c := &Consumer{Handle: h.handle, Backoff: newBackoff(q)}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancelled {
				cancel()
			}
			resp, err := c.SQS(ctx, tt.batch)
			if err != nil {
				t.Fatalf("SQS returned a Lambda error: %v", err)
			}
			if got := failedIDs(resp); !reflect.DeepEqual(got, tt.wantFailed) {
				t.Errorf("failed ids %v, want %v", got, tt.wantFailed)
			}
			if got := h.seenIDs(); !reflect.DeepEqual(got, tt.wantSeen) {
				t.Errorf("handler saw %v, want %v", got, tt.wantSeen)
			}
			vis := q.visibilities()
			if tt.wantNoBackoffs && len(vis) != 0 {
				t.Errorf("visibility changed for %v, want no change", vis)
			}
			for _, r := range tt.wantPoison {
				if v, ok := vis[r]; !ok || v != 0 {
					t.Errorf("poison %s: visibility %d (set: %v), want 0", r, v, ok)
				}
			}
			for _, r := range tt.wantBackedOff {
				if v := vis[r]; v < 7 || v > 10 {
					t.Errorf("failed %s on its first receive: visibility %d s, want 7.5..10", r, v)
				}
			}
			if len(vis) != len(tt.wantPoison)+len(tt.wantBackedOff) {
				t.Errorf("visibility changed for %v, want exactly %v and %v", vis, tt.wantPoison, tt.wantBackedOff)
			}
		})
	}
}

func TestBackoffGrowsWithTheReceiveCount(t *testing.T) {
	b := newBackoff(&fakeSQS{})
	for _, tt := range []struct {
		count    int
		min, max time.Duration
	}{
		{0, 7500 * time.Millisecond, 10 * time.Second}, // no attribute: as the first receive
		{1, 7500 * time.Millisecond, 10 * time.Second},
		{2, 22500 * time.Millisecond, 30 * time.Second},
		{3, 67500 * time.Millisecond, 90 * time.Second},
		{4, 202500 * time.Millisecond, 270 * time.Second},
		{5, 607500 * time.Millisecond, 810 * time.Second},
		{6, 675 * time.Second, 15 * time.Minute},
		{60, 675 * time.Second, 15 * time.Minute},
	} {
		for range 50 {
			if d := b.Delay(tt.count, false); d < tt.min || d > tt.max {
				t.Fatalf("receive %d: delay %v, want %v..%v", tt.count, d, tt.min, tt.max)
			}
		}
		if d := b.Delay(tt.count, true); d != 0 {
			t.Errorf("receive %d, permanent: delay %v, want 0", tt.count, d)
		}
	}
}

func TestBackoffUsesTheReceiveCountAndSurvivesAnSQSFailure(t *testing.T) {
	q := &fakeSQS{}
	c := &Consumer{Handle: (&recordingHandler{failIDs: map[string]bool{"e1": true}}).handle, Backoff: newBackoff(q)}
	batch := sqsBatch(envelope(created(t, "e1")))
	batch.Records[0].Attributes["ApproximateReceiveCount"] = "3"
	if _, err := c.SQS(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if v := q.visibilities()["r1"]; v < 67 || v > 90 {
		t.Errorf("third receive: visibility %d s, want 67..90", v)
	}
	q.err = errors.New("sqs down")
	resp, err := c.SQS(context.Background(), batch)
	if err != nil || !slices.Equal(failedIDs(resp), []string{"m1"}) {
		t.Errorf("with SQS failing: %v, %v; want m1 reported all the same", failedIDs(resp), err)
	}
}

func TestBackoffBuildsItsClientOnFirstUse(t *testing.T) {
	built := 0
	b := NewBackoff("https://queue.test/q", func() VisibilityAPI { built++; return &fakeSQS{} })
	c := &Consumer{Handle: (&recordingHandler{failIDs: map[string]bool{"e2": true}}).handle, Backoff: b}
	if _, err := c.SQS(context.Background(), sqsBatch(envelope(created(t, "e1")))); err != nil {
		t.Fatal(err)
	}
	if built != 0 {
		t.Fatalf("client built %d times for a batch without failures", built)
	}
	for range 2 {
		if _, err := c.SQS(context.Background(), sqsBatch(envelope(created(t, "e2")), envelope(created(t, "e2")))); err != nil {
			t.Fatal(err)
		}
	}
	if built != 1 {
		t.Errorf("client built %d times, want once", built)
	}
}

func TestSQSDeliversTheProducersEvent(t *testing.T) {
	h := &recordingHandler{}
	c := &Consumer{Handle: h.handle}
	if _, err := c.SQS(context.Background(), sqsBatch(envelope(created(t, "e1")))); err != nil {
		t.Fatal(err)
	}
	if len(h.seen) != 1 {
		t.Fatalf("handler saw %d events", len(h.seen))
	}
	e := h.seen[0]
	if e.ID() != "e1" || e.Type() != orderCreated || e.Source() != "shop.orders" || e.DataContentType() != "application/json" ||
		e.Subject() != "0193f3a2-5b7c-8d4e-9f10-2a3b4c5d6e7f" || e.Extensions()["correlationid"] != "3f1c2d4e-example" {
		t.Errorf("attributes %s", e.String())
	}
	var data struct {
		OrderID string `json:"orderId"`
		Total   struct{ Amount int }
	}
	if err := e.DataAs(&data); err != nil || data.OrderID != "0193f3a2-5b7c-8d4e-9f10-2a3b4c5d6e7f" || data.Total.Amount != 2500 {
		t.Errorf("data %+v, %v", data, err)
	}
}

func TestEveryCatalogExampleReachesTheHandler(t *testing.T) {
	for _, typ := range catalog.Types() {
		h := &recordingHandler{}
		c := &Consumer{Handle: h.handle}
		resp, err := c.SQS(context.Background(), sqsBatch(envelope(catalogEvent(t, typ, "x-1"))))
		if err != nil || len(resp.BatchItemFailures) != 0 || len(h.seen) != 1 || h.seen[0].Type() != typ {
			t.Errorf("%s: failures %v, err %v, seen %d", typ, resp.BatchItemFailures, err, len(h.seen))
		}
	}
}

func TestHandlerSeesTheEventsCorrelationID(t *testing.T) {
	var got string
	c := &Consumer{Handle: func(ctx context.Context, _ event.Event) error {
		got = httpapi.CorrelationID(ctx)
		return nil
	}}
	if _, err := c.SQS(context.Background(), sqsBatch(envelope(created(t, "e1")))); err != nil {
		t.Fatal(err)
	}
	if got != "3f1c2d4e-example" {
		t.Errorf("correlation id in the handler's context %q", got)
	}
}

func TestSQSResponseIsAnEmptyListNotNull(t *testing.T) {
	resp, err := (&Consumer{Handle: (&recordingHandler{}).handle}).SQS(context.Background(), sqsBatch(created(t, "e1")))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(resp)
	if string(b) != `{"batchItemFailures":[]}` {
		t.Errorf("response JSON %s", b)
	}
}

func TestLambdaDispatchesOnShape(t *testing.T) {
	sqsPayload, _ := json.Marshal(sqsBatch(envelope(created(t, "e1")), envelope(created(t, "e2"))))
	tests := []struct {
		name      string
		payload   string
		failIDs   map[string]bool
		wantSeen  []string
		wantResp  string
		wantErr   bool
		wantIsErr error // the handler's own error, returned unwrapped
	}{
		{name: "SQS batch with partial failure", payload: string(sqsPayload), failIDs: map[string]bool{"e2": true},
			wantSeen: []string{"e1", "e2"}, wantResp: `{"batchItemFailures":[{"itemIdentifier":"m2"}]}`},
		{name: "direct EventBridge invocation", payload: envelope(created(t, "e1")),
			wantSeen: []string{"e1"}, wantResp: `null`},
		{name: "direct EventBridge invocation, handler fails", payload: envelope(created(t, "e1")), failIDs: map[string]bool{"e1": true},
			wantSeen: []string{"e1"}, wantErr: true, wantIsErr: &handlerFailure{id: "e1"}},
		{name: "bare CloudEvent", payload: created(t, "e1"),
			wantSeen: []string{"e1"}, wantResp: `null`},
		{name: "bare CloudEvent, handler fails", payload: created(t, "e1"), failIDs: map[string]bool{"e1": true},
			wantSeen: []string{"e1"}, wantErr: true, wantIsErr: &handlerFailure{id: "e1"}},
		{name: "unknown shape", payload: `{"hello":"world"}`, wantSeen: []string{}, wantErr: true},
		{name: "not JSON", payload: `hello`, wantSeen: []string{}, wantErr: true},
		{name: "invalid bare CloudEvent", payload: `{"specversion":"1.0","id":"e1"}`, wantSeen: []string{}, wantErr: true},
		{name: "bare CloudEvent against its schema", payload: catalogEvent(t, orderCreated, "e1", func(d map[string]any) { delete(d, "subject") }),
			wantSeen: []string{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordingHandler{failIDs: tt.failIDs}
			resp, err := (&Consumer{Handle: h.handle}).Lambda(context.Background(), json.RawMessage(tt.payload))
			if got := h.seenIDs(); !reflect.DeepEqual(got, tt.wantSeen) {
				t.Errorf("handler saw %v, want %v", got, tt.wantSeen)
			}
			if tt.wantErr {
				if err == nil {
					t.Fatalf("want an error, got response %s", resp)
				}
				if tt.wantIsErr != nil && !reflect.DeepEqual(err, tt.wantIsErr) {
					t.Errorf("error %#v, want the handler's own %#v", err, tt.wantIsErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if string(resp) != tt.wantResp {
				t.Errorf("response %s, want %s", resp, tt.wantResp)
			}
		})
	}
}

// newTestEvent is the catalog's payment.charged example with id, as an SDK event.
func newTestEvent(t *testing.T, id string) event.Event {
	t.Helper()
	var e event.Event
	if err := json.Unmarshal([]byte(catalogEvent(t, "shop.payment.charged.v1", id)), &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// binaryRequest encodes e in binary mode, as a Knative broker delivers it.
func binaryRequest(t *testing.T, e event.Event) *http.Request {
	t.Helper()
	req, err := cehttp.NewHTTPRequestFromEvent(context.Background(), "http://function.test/", e)
	if err != nil {
		t.Fatal(err)
	}
	if req.Header.Get("Ce-Id") == "" {
		t.Fatalf("sdk did not produce a binary-mode request: %v", req.Header)
	}
	return req
}

// structuredRequest encodes e in structured mode.
func structuredRequest(t *testing.T, e event.Event) *http.Request {
	t.Helper()
	body, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/cloudevents+json; charset=utf-8")
	return req
}

// inProgressHandler fails like a delivery that found the claim held.
func inProgressHandler(context.Context, event.Event) error { return ErrInProgress }

func TestCloudEventsReceiver(t *testing.T) {
	tests := []struct {
		name       string
		req        func(t *testing.T) *http.Request
		handle     Handler // default: the recording handler
		failIDs    map[string]bool
		permanent  map[string]bool
		wantStatus int
		wantSeen   []string
	}{
		{name: "binary mode", req: func(t *testing.T) *http.Request { return binaryRequest(t, newTestEvent(t, "b-1")) },
			wantStatus: http.StatusNoContent, wantSeen: []string{"b-1"}},
		{name: "structured mode", req: func(t *testing.T) *http.Request { return structuredRequest(t, newTestEvent(t, "s-1")) },
			wantStatus: http.StatusNoContent, wantSeen: []string{"s-1"}},
		{name: "handler error asks the broker to retry", req: func(t *testing.T) *http.Request { return binaryRequest(t, newTestEvent(t, "b-2")) },
			failIDs: map[string]bool{"b-2": true}, wantStatus: http.StatusInternalServerError, wantSeen: []string{"b-2"}},
		{name: "a permanent handler error is not retried", req: func(t *testing.T) *http.Request { return binaryRequest(t, newTestEvent(t, "b-2")) },
			permanent: map[string]bool{"b-2": true}, wantStatus: http.StatusUnprocessableEntity, wantSeen: []string{"b-2"}},
		{name: "a delivery another one is handling is retried later", req: func(t *testing.T) *http.Request { return binaryRequest(t, newTestEvent(t, "b-2")) },
			handle: inProgressHandler, wantStatus: http.StatusConflict, wantSeen: []string{}},
		{name: "plain JSON is not an event", req: func(*testing.T) *http.Request {
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"orderId":"o-1"}`))
			req.Header.Set("Content-Type", "application/json")
			return req
		}, wantStatus: http.StatusBadRequest, wantSeen: []string{}},
		{name: "binary mode without required attributes", req: func(t *testing.T) *http.Request {
			req := binaryRequest(t, newTestEvent(t, "b-3"))
			req.Header.Del("Ce-Type")
			return req
		}, wantStatus: http.StatusBadRequest, wantSeen: []string{}},
		{name: "binary mode against the schema", req: func(t *testing.T) *http.Request {
			req := binaryRequest(t, newTestEvent(t, "b-4"))
			req.Header.Del("Ce-Subject")
			return req
		}, wantStatus: http.StatusBadRequest, wantSeen: []string{}},
		{name: "a type the catalog does not know", req: func(t *testing.T) *http.Request {
			e := newTestEvent(t, "b-5")
			e.SetType("shop.payment.lost.v1")
			return binaryRequest(t, e)
		}, wantStatus: http.StatusBadRequest, wantSeen: []string{}},
		{name: "structured mode that is not JSON", req: func(*testing.T) *http.Request {
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"specversion":`))
			req.Header.Set("Content-Type", "application/cloudevents+json")
			return req
		}, wantStatus: http.StatusBadRequest, wantSeen: []string{}},
		{name: "too large", req: func(t *testing.T) *http.Request {
			big := catalogEvent(t, "shop.payment.charged.v1", "big", func(d map[string]any) { d["data"] = strings.Repeat("x", maxEventBytes) })
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(big))
			req.Header.Set("Content-Type", "application/cloudevents+json")
			return req
		}, wantStatus: http.StatusRequestEntityTooLarge, wantSeen: []string{}},
		{name: "GET", req: func(*testing.T) *http.Request { return httptest.NewRequest(http.MethodGet, "/", nil) },
			wantStatus: http.StatusMethodNotAllowed, wantSeen: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordingHandler{failIDs: tt.failIDs, permanentIDs: tt.permanent}
			handle := tt.handle
			if handle == nil {
				handle = h.handle
			}
			rec := httptest.NewRecorder()
			(&Consumer{Handle: handle}).HTTP().ServeHTTP(rec, tt.req(t))
			if rec.Code != tt.wantStatus {
				t.Errorf("status %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if rec.Code >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("error response content type %q", rec.Header().Get("Content-Type"))
			}
			if rec.Code == http.StatusConflict && rec.Header().Get("Retry-After") == "" {
				t.Error("409 without Retry-After")
			}
			if got := h.seenIDs(); !reflect.DeepEqual(got, tt.wantSeen) {
				t.Errorf("handler saw %v, want %v", got, tt.wantSeen)
			}
			for _, e := range h.seen {
				var data struct{ OrderID string }
				if err := e.DataAs(&data); err != nil || data.OrderID != "0193f3a2-5b7c-8d4e-9f10-2a3b4c5d6e7f" || e.Type() != "shop.payment.charged.v1" {
					t.Errorf("event %s decoded as %+v, %v", e.ID(), data, err)
				}
			}
		})
	}
}

func TestCloudEventsReceiverHandlerErrorIsNotEchoed(t *testing.T) {
	h := func(context.Context, event.Event) error { return errors.New("dynamodb: secret table name") }
	rec := httptest.NewRecorder()
	(&Consumer{Handle: h}).HTTP().ServeHTTP(rec, binaryRequest(t, newTestEvent(t, "b-1")))
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "secret") {
		t.Errorf("status %d body %s", rec.Code, rec.Body)
	}
}

// startServe runs runtime.Serve with h on 127.0.0.1 until the test ends and
// returns its base URL.
func startServe(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- runtime.Serve(ctx, ln, h) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
	return "http://" + ln.Addr().String()
}

// post sends req's method, headers and body to base.
func post(t *testing.T, base string, req *http.Request) int {
	t.Helper()
	out, err := http.NewRequest(http.MethodPost, base+"/", req.Body)
	if err != nil {
		t.Fatal(err)
	}
	out.Header = req.Header
	resp, err := http.DefaultClient.Do(out)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func TestCloudEventsReceiverBehindServe(t *testing.T) {
	h := &recordingHandler{}
	base := startServe(t, (&Consumer{Handle: h.handle}).HTTP())
	for _, mode := range []struct {
		name string
		req  func(t *testing.T, e event.Event) *http.Request
	}{{"binary", binaryRequest}, {"structured", structuredRequest}} {
		if status := post(t, base, mode.req(t, newTestEvent(t, mode.name))); status != http.StatusNoContent {
			t.Errorf("%s: status %d", mode.name, status)
		}
	}
	if got := h.seenIDs(); !slices.Equal(got, []string{"binary", "structured"}) {
		t.Errorf("handler saw %v", got)
	}
}
