package ingestion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	catalog "github.com/shop-serverless/shop/events"
	"github.com/shop-serverless/shop/events/explain"
	"github.com/shop-serverless/shop/shared/auth"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/principal"
	"github.com/shop-serverless/shop/shared/problem"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/testenv"
	"github.com/shop-serverless/shop/shared/tracing"
)

const (
	received = "shop.warehouse.stock.received.v1"
	source   = "com.example.warehouse"
)

var regs = []Registration{
	{Subject: "operator", Source: source, Types: []string{received}},
	{Subject: "operator", Source: "com.example.returns", Types: []string{received}},
	{Subject: "billing", Source: "com.example.billing", Types: []string{received}},
}

// fakeBus records what it was asked to publish, or fails.
type fakeBus struct {
	mu        sync.Mutex
	published []event.Event
	err       error
}

func (b *fakeBus) Publish(_ context.Context, events ...event.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	b.published = append(b.published, events...)
	return nil
}

func (b *fakeBus) ids() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids := []string{}
	for _, e := range b.published {
		ids = append(ids, e.ID())
	}
	return ids
}

// warehouseEvent is the catalog's example of stock.received with id, edited.
func warehouseEvent(t *testing.T, id string, edits ...func(map[string]any)) map[string]any {
	t.Helper()
	raw, err := catalog.Example(received)
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
	return doc
}

func structured(t *testing.T, doc map[string]any) *http.Request {
	t.Helper()
	body, _ := json.Marshal(doc)
	r := httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(string(body)))
	r.Header.Set("Content-Type", MediaStructured+"; charset=utf-8")
	return r
}

func batch(t *testing.T, docs ...map[string]any) *http.Request {
	t.Helper()
	body, _ := json.Marshal(docs)
	r := httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(string(body)))
	r.Header.Set("Content-Type", MediaBatch)
	return r
}

func binary(t *testing.T, doc map[string]any) *http.Request {
	t.Helper()
	raw, _ := json.Marshal(doc)
	var e event.Event
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	r, err := cehttp.NewHTTPRequestFromEvent(context.Background(), "http://api.test/v1/events", e)
	if err != nil {
		t.Fatal(err)
	}
	if r.Header.Get("Ce-Id") == "" {
		t.Fatalf("not binary mode: %v", r.Header)
	}
	return r
}

func as(subject string) principal.Principal {
	return principal.Principal{Subject: subject, Kind: principal.KindService, Issuer: "shop-" + subject, Scopes: []string{"events:publish"}}
}

// serve runs the handler for r as p (nil: no principal).
func serve(t *testing.T, bus *fakeBus, p *principal.Principal, r *http.Request) (*httptest.ResponseRecorder, problem.Details) {
	t.Helper()
	if p != nil {
		r = r.WithContext(principal.WithContext(r.Context(), *p))
	}
	rec := httptest.NewRecorder()
	Handler(bus, regs).ServeHTTP(rec, r)
	var d problem.Details
	if rec.Code >= 400 {
		if ct := rec.Header().Get("Content-Type"); ct != problem.ContentType {
			t.Errorf("error content type %q", ct)
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &d)
	}
	return rec, d
}

func TestIngestAcceptsEveryMode(t *testing.T) {
	operator := as("operator")
	for _, tt := range []struct {
		name string
		req  *http.Request
		ids  []string
	}{
		{"binary", binary(t, warehouseEvent(t, "b-1")), []string{"b-1"}},
		{"structured", structured(t, warehouseEvent(t, "s-1")), []string{"s-1"}},
		{"batch", batch(t, warehouseEvent(t, "m-1"), warehouseEvent(t, "m-2", func(d map[string]any) { d["source"] = "com.example.returns" }), warehouseEvent(t, "m-3")),
			[]string{"m-1", "m-2", "m-3"}},
		{"a full batch", batch(t, func() []map[string]any {
			var docs []map[string]any
			for i := range MaxBatch {
				docs = append(docs, warehouseEvent(t, fmt.Sprintf("f-%d", i)))
			}
			return docs
		}()...), []string{"f-0", "f-1", "f-2", "f-3", "f-4", "f-5", "f-6", "f-7", "f-8", "f-9"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bus := &fakeBus{}
			rec, _ := serve(t, bus, &operator, tt.req)
			if rec.Code != http.StatusAccepted {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var resp Response
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || !slices.Equal(resp.IDs, tt.ids) {
				t.Fatalf("body %s, want ids %v", rec.Body, tt.ids)
			}
			if got := bus.ids(); !slices.Equal(got, tt.ids) {
				t.Fatalf("published %v, want %v", got, tt.ids)
			}
			// What goes on the bus is the sender's event, intact.
			e := bus.published[0]
			var data map[string]any
			if err := e.DataAs(&data); err != nil || data["shipmentId"] != "SHP-2026-0042" || e.Subject() != "0193f3a0-2222-7ccc-8ddd-abcdef012345" ||
				e.Extensions()["correlationid"] != "3f1c2d4e-example" || e.DataSchema() != catalog.SchemaURI(received) {
				t.Errorf("published %s (data %v, %v)", e, data, err)
			}
			structured, _ := json.Marshal(e)
			if err := explain.ValidateEvent(structured); err != nil {
				t.Errorf("published an event against its schema: %v", err)
			}
		})
	}
}

func TestIngestRefuses(t *testing.T) {
	operator, billing, stranger := as("operator"), as("billing"), as("stranger")
	big := strings.Repeat("x", MaxEntryBytes)
	tests := []struct {
		name   string
		p      *principal.Principal
		req    *http.Request
		status int
		fields []string // the failing places the problem lists, in order
		detail string   // a part of the detail
	}{
		{"no principal", nil, structured(t, warehouseEvent(t, "e")), http.StatusUnauthorized, nil, "bearer token"},
		{"a caller with no registration", &stranger, structured(t, warehouseEvent(t, "e")), http.StatusForbidden, nil, `"stranger"`},
		{"a source registered for someone else", &billing, structured(t, warehouseEvent(t, "e")), http.StatusForbidden, nil, `source "com.example.warehouse"`},
		{"a source of its own, not registered", &operator, structured(t, warehouseEvent(t, "e", func(d map[string]any) { d["source"] = "com.example.elsewhere" })), http.StatusForbidden, nil, "com.example.elsewhere"},
		{"a shop source", &operator, structured(t, warehouseEvent(t, "e", func(d map[string]any) { d["source"] = "shop.inventory" })), http.StatusForbidden, nil, "shop.inventory"},
		{"a known type not registered", &operator, structured(t, orderCreated(t)), http.StatusForbidden, nil, "shop.order.created.v1"},
		{"one forbidden event fails its batch", &operator, batch(t, warehouseEvent(t, "a"), warehouseEvent(t, "b", func(d map[string]any) { d["source"] = "com.example.billing" })), http.StatusForbidden, nil, "event 1"},
		{"an unknown type", &operator, structured(t, warehouseEvent(t, "e", func(d map[string]any) { d["type"] = "shop.warehouse.stock.lost.v1" })), http.StatusBadRequest, []string{"/type"}, ""},
		{"against the schema", &operator, structured(t, warehouseEvent(t, "e", func(d map[string]any) {
			data := d["data"].(map[string]any)
			data["quantity"] = 0
			delete(data, "shipmentId")
		})), http.StatusBadRequest, []string{"/data/quantity", "/data"}, "schemas"},
		{"binary mode against the schema", &operator, binary(t, warehouseEvent(t, "e", func(d map[string]any) { delete(d, "subject") })), http.StatusBadRequest, []string{""}, ""},
		{"a batch: every failing place, by index", &operator, batch(t,
			warehouseEvent(t, "a"),
			warehouseEvent(t, "b", func(d map[string]any) { d["data"].(map[string]any)["quantity"] = -1 }),
			warehouseEvent(t, "c", func(d map[string]any) { d["type"] = "shop.nope.v1" }),
		), http.StatusBadRequest, []string{"/1/data/quantity", "/2/type"}, ""},
		{"an event too large", &operator, structured(t, warehouseEvent(t, "e", func(d map[string]any) { d["data"].(map[string]any)["shipmentId"] = big })), http.StatusRequestEntityTooLarge, nil, "the event is"},
		{"too large in a batch", &operator, batch(t, warehouseEvent(t, "a"), warehouseEvent(t, "b", func(d map[string]any) { d["data"].(map[string]any)["shipmentId"] = big })), http.StatusRequestEntityTooLarge, nil, "event 1 is"},
		{"a body larger than any batch", &operator, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(`"`+strings.Repeat("x", maxBodyBytes)+`"`))
			r.Header.Set("Content-Type", MediaBatch)
			return r
		}(), http.StatusRequestEntityTooLarge, nil, ""},
		{"too many in a batch", &operator, batch(t, func() []map[string]any {
			var docs []map[string]any
			for i := range MaxBatch + 1 {
				docs = append(docs, warehouseEvent(t, fmt.Sprintf("f-%d", i)))
			}
			return docs
		}()...), http.StatusBadRequest, nil, "at most 10"},
		{"an empty batch", &operator, batch(t), http.StatusBadRequest, nil, "empty"},
		{"a batch that is no array", &operator, func() *http.Request {
			r := structured(t, warehouseEvent(t, "e"))
			r.Header.Set("Content-Type", MediaBatch)
			return r
		}(), http.StatusBadRequest, nil, "JSON array"},
		{"plain JSON", &operator, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(`{"productId":"p"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}(), http.StatusBadRequest, nil, "not a CloudEvent"},
		{"structured mode that is no object", &operator, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(`[1]`))
			r.Header.Set("Content-Type", MediaStructured)
			return r
		}(), http.StatusBadRequest, []string{""}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := &fakeBus{}
			rec, d := serve(t, bus, tt.p, tt.req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if len(bus.published) != 0 {
				t.Errorf("published %v from a refused request", bus.ids())
			}
			if !strings.Contains(d.Detail, tt.detail) {
				t.Errorf("detail %q, want it to say %q", d.Detail, tt.detail)
			}
			var fields []string
			for _, f := range d.Errors {
				fields = append(fields, f.Field)
				if f.Message == "" {
					t.Errorf("field %q without a message", f.Field)
				}
			}
			if !slices.Equal(fields, tt.fields) {
				t.Errorf("failing places %v, want %v (%s)", fields, tt.fields, rec.Body)
			}
		})
	}
}

func orderCreated(t *testing.T) map[string]any {
	t.Helper()
	raw, _ := catalog.Example("shop.order.created.v1")
	var doc map[string]any
	_ = json.Unmarshal(raw, &doc)
	doc["source"] = source
	return doc
}

func TestIngestAsksForARetryWhenTheBusFails(t *testing.T) {
	operator := as("operator")
	bus := &fakeBus{err: errors.New("throttled")}
	rec, d := serve(t, bus, &operator, structured(t, warehouseEvent(t, "e")))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || strings.Contains(d.Detail, "throttled") {
		t.Fatalf("status %d, Retry-After %q, body %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
}

// fakeVerifier knows tokens by their text.
type fakeVerifier map[string]servicetoken.Claims

func (f fakeVerifier) Verify(_ context.Context, token string, _ ...string) (servicetoken.Claims, error) {
	c, ok := f[token]
	if !ok {
		return servicetoken.Claims{}, servicetoken.ErrInvalid
	}
	return c, nil
}

// The route's auth, as the manifest declares it, in front of the handler:
// no token, or one without the scope, never reaches it.
func TestIngestBehindItsRouteAuth(t *testing.T) {
	set, err := manifest.Load("../../..")
	if err != nil {
		t.Fatal(err)
	}
	var level string
	for _, fn := range set.Functions() {
		if fn.Name == "platform-ingest" {
			level = fn.HTTP.Auth
		}
	}
	if level != "scope:events:publish" {
		t.Fatalf("platform-ingest's auth is %q", level)
	}
	v := fakeVerifier{
		"with-scope":    {Subject: "operator", Kind: principal.KindService, Scopes: []string{"events:publish"}},
		"without-scope": {Subject: "operator", Kind: principal.KindService, Scopes: []string{"inventory:write"}},
		"user":          {Subject: "0193f3a1-1111-7aaa-8bbb-0123456789ab", Kind: principal.KindUser},
	}
	for token, want := range map[string]int{"": 401, "garbage": 401, "without-scope": 403, "user": 403, "with-scope": 202} {
		bus := &fakeBus{}
		r := structured(t, warehouseEvent(t, "e"))
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		auth.Require(level, v, Handler(bus, regs)).ServeHTTP(rec, r)
		if rec.Code != want {
			t.Errorf("token %q: status %d, want %d", token, rec.Code, want)
		}
	}
}

func TestRegistrationsAreTheManifests(t *testing.T) {
	if EnvRegistrations != manifest.EnvIngestPublishers {
		t.Fatalf("reads %s, the deployment sets %s", EnvRegistrations, manifest.EnvIngestPublishers)
	}
	set, err := manifest.Load("../../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range set.Functions() {
		if len(fn.Ingest) == 0 {
			continue
		}
		raw, _ := json.Marshal(fn.Ingest) // as the deployment writes the variable
		got, err := ParseRegistrations(string(raw))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(fn.Ingest) || got[0].Subject != fn.Ingest[0].Subject || got[0].Source != fn.Ingest[0].Source || !slices.Equal(got[0].Types, fn.Ingest[0].Types) {
			t.Errorf("%s: read %+v from %s", fn.Name, got, raw)
		}
	}
	for _, bad := range []string{"", "[]", "{}", `[{"subject":"operator"}]`} {
		if _, err := ParseRegistrations(bad); err == nil {
			t.Errorf("ParseRegistrations(%q) accepted it", bad)
		}
	}
}

func TestAuthorizerLinksNoneOfThis(t *testing.T) {
	// The reason this package is not package platform.
	testenv.ForbidDeps(t, "../authorizer", "github.com/cloudevents", "github.com/santhosh-tekuri/jsonschema", "github.com/shop-serverless/shop/functions/platform/ingestion")
}

// The events ingest puts on the bus carry the caller's trace (the span of
// its request) unless they carry one of their own.
func TestIngestCarriesTheCallersTrace(t *testing.T) {
	const own = "00-6759e988bd862e3fe1be46a994272793-63995c3f42cd8ad8-01"
	operator := as("operator")
	ctx, span := tracing.Invocation(context.Background(), "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	defer span.End(nil)
	req := batch(t, warehouseEvent(t, "t-1"), warehouseEvent(t, "t-2", func(d map[string]any) { d["traceparent"] = own }))
	bus := &fakeBus{}
	rec, _ := serve(t, bus, &operator, req.WithContext(ctx))
	if rec.Code != http.StatusAccepted || len(bus.published) != 2 {
		t.Fatalf("status %d, %d published", rec.Code, len(bus.published))
	}
	if got := bus.published[1].Extensions()["traceparent"]; got != own {
		t.Errorf("an event's own traceparent became %v", got)
	}
	got, _ := bus.published[0].Extensions()["traceparent"].(string)
	if got != tracing.TraceParent(ctx) {
		t.Errorf("traceparent %q, want the request's %q", got, tracing.TraceParent(ctx))
	}
	if got == "" {
		t.Fatal("no traceparent: the request's span carries none")
	}
	structured, _ := json.Marshal(bus.published[0])
	if err := explain.ValidateEvent(structured); err != nil {
		t.Errorf("with the caller's traceparent: %v", err)
	}
}

// An event the traceparent would take past an entry's limit goes without.
func TestCarryTraceKeepsEventsWithinAnEntry(t *testing.T) {
	ctx, span := tracing.Invocation(context.Background(), "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	defer span.End(nil)
	raw, _ := json.Marshal(warehouseEvent(t, "big"))
	var e event.Event
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	// Data that leaves 10 bytes of the entry free: less than a traceparent.
	size := func() int { b, _ := json.Marshal(e); return len(b) + len(e.Source()) + len(e.Type()) }
	_ = e.SetData(event.ApplicationJSON, map[string]string{"pad": ""})
	_ = e.SetData(event.ApplicationJSON, map[string]string{"pad": strings.Repeat("x", MaxEntryBytes-10-size())})
	if size() != MaxEntryBytes-10 {
		t.Fatalf("entry of %d bytes", size())
	}
	evs := []event.Event{e}
	carryTrace(ctx, evs)
	if _, ok := evs[0].Extensions()["traceparent"]; ok {
		t.Error("traceparent added past the entry limit")
	}
}
