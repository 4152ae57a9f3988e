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
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/shop-serverless/shop/shared/runtime"
)

// structuredEvent is a structured-mode CloudEvent as producers put it in
// EventBridge's detail.
func structuredEvent(id, eventType, data string) string {
	return `{"specversion":"1.0","id":"` + id + `","source":"shop/orders","type":"` + eventType +
		`","time":"2025-01-02T03:04:05Z","datacontenttype":"application/json","data":` + data + `}`
}

// envelope wraps a structured CloudEvent the way EventBridge delivers it.
func envelope(detail string) string {
	return `{"version":"0","id":"eb-1","detail-type":"shop.order.created","source":"shop/orders","account":"000000000000",` +
		`"time":"2025-01-02T03:04:05Z","region":"eu-west-1","resources":[],"detail":` + detail + `}`
}

// recordingHandler records the events it sees and fails those whose id is in
// failIDs with a *handlerFailure.
type recordingHandler struct {
	mu      sync.Mutex
	seen    []event.Event
	failIDs map[string]bool
}

type handlerFailure struct{ id string }

func (e *handlerFailure) Error() string { return "handler failed on " + e.id }

func (h *recordingHandler) handle(_ context.Context, e event.Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen = append(h.seen, e)
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
		batch.Records = append(batch.Records, events.SQSMessage{MessageId: fmt.Sprintf("m%d", i+1), Body: body, EventSource: "aws:sqs"})
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

func TestSQSAdapterReportsOnlyFailedRecords(t *testing.T) {
	tests := []struct {
		name       string
		batch      events.SQSEvent
		failIDs    map[string]bool
		cancelled  bool
		wantFailed []string
		wantSeen   []string
	}{
		{
			name: "one good, one handler error, one undecodable",
			batch: sqsBatch(
				envelope(structuredEvent("e1", "shop.order.created", `{"orderId":"o-1"}`)),
				envelope(structuredEvent("e2", "shop.order.created", `{"orderId":"o-2"}`)),
				`{"detail-type":"shop.order.created","detail":{"specversion":`,
			),
			failIDs:    map[string]bool{"e2": true},
			wantFailed: []string{"m2", "m3"},
			wantSeen:   []string{"e1", "e2"},
		},
		{
			name: "invalid CloudEvent (no id) fails without reaching the handler",
			batch: sqsBatch(
				envelope(`{"specversion":"1.0","source":"shop/orders","type":"shop.order.created"}`),
				envelope(structuredEvent("e2", "shop.order.created", `{}`)),
			),
			wantFailed: []string{"m1"},
			wantSeen:   []string{"e2"},
		},
		{
			name: "envelope without detail, and a body that is neither shape",
			batch: sqsBatch(
				`{"version":"0","detail-type":"shop.order.created","source":"shop/orders"}`,
				`{"hello":"world"}`,
				`plain text`,
			),
			wantFailed: []string{"m1", "m2", "m3"},
			wantSeen:   []string{},
		},
		{
			name:       "bare structured CloudEvent in the queue",
			batch:      sqsBatch(structuredEvent("e1", "shop.order.created", `{}`)),
			wantFailed: []string{},
			wantSeen:   []string{"e1"},
		},
		{
			name:       "deadline passed: everything handed back, nothing started",
			batch:      sqsBatch(envelope(structuredEvent("e1", "t", `{}`)), envelope(structuredEvent("e2", "t", `{}`))),
			cancelled:  true,
			wantFailed: []string{"m1", "m2"},
			wantSeen:   []string{},
		},
		{
			name:       "empty batch",
			batch:      events.SQSEvent{},
			wantFailed: []string{},
			wantSeen:   []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordingHandler{failIDs: tt.failIDs}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancelled {
				cancel()
			}
			resp, err := SQSAdapter(h.handle)(ctx, tt.batch)
			if err != nil {
				t.Fatalf("SQSAdapter returned a Lambda error: %v", err)
			}
			if got := failedIDs(resp); !reflect.DeepEqual(got, tt.wantFailed) {
				t.Errorf("failed ids %v, want %v", got, tt.wantFailed)
			}
			if got := h.seenIDs(); !reflect.DeepEqual(got, tt.wantSeen) {
				t.Errorf("handler saw %v, want %v", got, tt.wantSeen)
			}
		})
	}
}

func TestSQSAdapterDeliversTheProducersEvent(t *testing.T) {
	h := &recordingHandler{}
	batch := sqsBatch(envelope(structuredEvent("e1", "shop.order.created", `{"orderId":"o-1","total":{"amount":1250,"currency":"EUR"}}`)))
	if _, err := SQSAdapter(h.handle)(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if len(h.seen) != 1 {
		t.Fatalf("handler saw %d events", len(h.seen))
	}
	e := h.seen[0]
	if e.ID() != "e1" || e.Type() != "shop.order.created" || e.Source() != "shop/orders" || e.DataContentType() != "application/json" {
		t.Errorf("attributes %s", e.String())
	}
	var data struct {
		OrderID string `json:"orderId"`
		Total   struct{ Amount int }
	}
	if err := e.DataAs(&data); err != nil || data.OrderID != "o-1" || data.Total.Amount != 1250 {
		t.Errorf("data %+v, %v", data, err)
	}
}

func TestSQSResponseIsAnEmptyListNotNull(t *testing.T) {
	resp, err := SQSAdapter((&recordingHandler{}).handle)(context.Background(), sqsBatch(structuredEvent("e1", "t", `{}`)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(resp)
	if string(b) != `{"batchItemFailures":[]}` {
		t.Errorf("response JSON %s", b)
	}
}

func TestLambdaEventHandlerDispatchesOnShape(t *testing.T) {
	sqsPayload, _ := json.Marshal(sqsBatch(
		envelope(structuredEvent("e1", "t", `{}`)),
		envelope(structuredEvent("e2", "t", `{}`)),
	))
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
		{name: "direct EventBridge invocation", payload: envelope(structuredEvent("e1", "t", `{}`)),
			wantSeen: []string{"e1"}, wantResp: `null`},
		{name: "direct EventBridge invocation, handler fails", payload: envelope(structuredEvent("e1", "t", `{}`)), failIDs: map[string]bool{"e1": true},
			wantSeen: []string{"e1"}, wantErr: true, wantIsErr: &handlerFailure{id: "e1"}},
		{name: "bare CloudEvent", payload: structuredEvent("e1", "t", `{}`),
			wantSeen: []string{"e1"}, wantResp: `null`},
		{name: "bare CloudEvent, handler fails", payload: structuredEvent("e1", "t", `{}`), failIDs: map[string]bool{"e1": true},
			wantSeen: []string{"e1"}, wantErr: true, wantIsErr: &handlerFailure{id: "e1"}},
		{name: "unknown shape", payload: `{"hello":"world"}`, wantSeen: []string{}, wantErr: true},
		{name: "not JSON", payload: `hello`, wantSeen: []string{}, wantErr: true},
		{name: "invalid bare CloudEvent", payload: `{"specversion":"1.0","id":"e1"}`, wantSeen: []string{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordingHandler{failIDs: tt.failIDs}
			resp, err := lambdaEventHandler{handle: h.handle}.invoke(context.Background(), json.RawMessage(tt.payload))
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

func newTestEvent(t *testing.T, id string) event.Event {
	t.Helper()
	e := event.New()
	e.SetID(id)
	e.SetSource("shop/payments")
	e.SetType("shop.payment.charged")
	if err := e.SetData(event.ApplicationJSON, map[string]any{"orderId": "o-7", "amount": 999}); err != nil {
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

func TestCloudEventsReceiver(t *testing.T) {
	tests := []struct {
		name       string
		req        func(t *testing.T) *http.Request
		failIDs    map[string]bool
		wantStatus int
		wantSeen   []string
	}{
		{name: "binary mode", req: func(t *testing.T) *http.Request { return binaryRequest(t, newTestEvent(t, "b-1")) },
			wantStatus: http.StatusNoContent, wantSeen: []string{"b-1"}},
		{name: "structured mode", req: func(t *testing.T) *http.Request { return structuredRequest(t, newTestEvent(t, "s-1")) },
			wantStatus: http.StatusNoContent, wantSeen: []string{"s-1"}},
		{name: "handler error asks the broker to retry", req: func(t *testing.T) *http.Request { return binaryRequest(t, newTestEvent(t, "b-2")) },
			failIDs: map[string]bool{"b-2": true}, wantStatus: http.StatusInternalServerError, wantSeen: []string{"b-2"}},
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
		{name: "structured mode that is not JSON", req: func(*testing.T) *http.Request {
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"specversion":`))
			req.Header.Set("Content-Type", "application/cloudevents+json")
			return req
		}, wantStatus: http.StatusBadRequest, wantSeen: []string{}},
		{name: "too large", req: func(*testing.T) *http.Request {
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(structuredEvent("big", "t", `"`+strings.Repeat("x", maxEventBytes)+`"`)))
			req.Header.Set("Content-Type", "application/cloudevents+json")
			return req
		}, wantStatus: http.StatusRequestEntityTooLarge, wantSeen: []string{}},
		{name: "GET", req: func(*testing.T) *http.Request { return httptest.NewRequest(http.MethodGet, "/", nil) },
			wantStatus: http.StatusMethodNotAllowed, wantSeen: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordingHandler{failIDs: tt.failIDs}
			rec := httptest.NewRecorder()
			cloudEventsHandler(h.handle).ServeHTTP(rec, tt.req(t))
			if rec.Code != tt.wantStatus {
				t.Errorf("status %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if rec.Code >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("error response content type %q", rec.Header().Get("Content-Type"))
			}
			if got := h.seenIDs(); !reflect.DeepEqual(got, tt.wantSeen) {
				t.Errorf("handler saw %v, want %v", got, tt.wantSeen)
			}
			for _, e := range h.seen {
				var data struct{ OrderID string }
				if err := e.DataAs(&data); err != nil || data.OrderID != "o-7" || e.Type() != "shop.payment.charged" {
					t.Errorf("event %s decoded as %+v, %v", e.ID(), data, err)
				}
			}
		})
	}
}

func TestCloudEventsReceiverHandlerErrorIsNotEchoed(t *testing.T) {
	h := func(context.Context, event.Event) error { return errors.New("dynamodb: secret table name") }
	rec := httptest.NewRecorder()
	cloudEventsHandler(h).ServeHTTP(rec, binaryRequest(t, newTestEvent(t, "b-1")))
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

func TestCloudEventsReceiverBehindServe(t *testing.T) {
	h := &recordingHandler{}
	base := startServe(t, cloudEventsHandler(h.handle))
	for _, mode := range []struct {
		name string
		req  func(t *testing.T, e event.Event) *http.Request
	}{{"binary", binaryRequest}, {"structured", structuredRequest}} {
		req := mode.req(t, newTestEvent(t, mode.name))
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
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("%s: status %d", mode.name, resp.StatusCode)
		}
	}
	if got := h.seenIDs(); !slices.Equal(got, []string{"binary", "structured"}) {
		t.Errorf("handler saw %v", got)
	}
}
