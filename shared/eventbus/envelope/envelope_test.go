package envelope

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	catalog "github.com/shop-serverless/shop/events"
	"github.com/shop-serverless/shop/events/explain"
	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/testenv"
	"github.com/shop-serverless/shop/shared/tracing"
)

// example is a catalog example as a Spec, with its data.
func example(t *testing.T, typ string) (Spec, map[string]any) {
	t.Helper()
	raw, err := catalog.Example(typ)
	if err != nil {
		t.Fatal(err)
	}
	var ex struct {
		Source  string         `json:"source"`
		Subject string         `json:"subject"`
		Data    map[string]any `json:"data"`
	}
	if err := json.Unmarshal(raw, &ex); err != nil {
		t.Fatal(err)
	}
	return Spec{Type: typ, Source: ex.Source, Subject: ex.Subject, ID: ID(typ, ex.Subject),
		Time: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Data: ex.Data}, ex.Data
}

func mustJSON(t *testing.T, e event.Event) []byte {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Built from each type's example data, every event is the full envelope
// the catalog asks for, and passes its schema.
func TestNewBuildsAFullEnvelopeForEveryType(t *testing.T) {
	ctx := httpapi.WithCorrelationID(context.Background(), "corr-1")
	for _, typ := range catalog.Types() {
		t.Run(typ, func(t *testing.T) {
			s, data := example(t, typ)
			e, err := New(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			b := mustJSON(t, e)
			if err := explain.ValidateEvent(b); err != nil {
				t.Errorf("the event fails its schema: %v", err)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"specversion": "1.0", "id": s.ID, "source": s.Source, "type": typ, "subject": s.Subject,
				"time": "2026-12-01T10:00:00Z", "datacontenttype": "application/json",
				"dataschema": catalog.SchemaURI(typ), "correlationid": "corr-1",
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
			gotData, _ := json.Marshal(got["data"])
			wantData, _ := json.Marshal(data)
			if string(gotData) != string(wantData) {
				t.Errorf("data %s, want %s", gotData, wantData)
			}
			if _, ok := got["traceparent"]; ok {
				t.Errorf("traceparent without a Lambda trace: %v", got["traceparent"])
			}
		})
	}
}

func TestSchemaURIIsTheCatalogs(t *testing.T) {
	for _, typ := range catalog.Types() {
		if SchemaURI(typ) != catalog.SchemaURI(typ) {
			t.Errorf("SchemaURI(%s) = %s, catalog says %s", typ, SchemaURI(typ), catalog.SchemaURI(typ))
		}
	}
}

func TestNewTakesJSONBytesAsJSON(t *testing.T) {
	s, data := example(t, "shop.user.created.v1")
	raw, _ := json.Marshal(data)
	for _, d := range []any{raw, json.RawMessage(raw)} {
		s.Data = d
		e, err := New(context.Background(), s)
		if err != nil {
			t.Fatalf("%T: %v", d, err)
		}
		if string(e.Data()) != string(raw) || e.DataBase64 {
			t.Errorf("%T: data %s (base64 %v), want %s", d, e.Data(), e.DataBase64, raw)
		}
	}
}

// The event carries the trace of the span that makes it (the span's own
// id as parent), not the Lambda invocation's context value, nor anything
// when ctx has no span.
func TestNewCarriesTheSpansTraceAsTraceparent(t *testing.T) {
	s, _ := example(t, "shop.user.created.v1")
	//lint:ignore SA1029 the key aws-lambda-go uses: no longer what the event carries
	lambdaCtx := context.WithValue(context.Background(), "x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	e, err := New(lambdaCtx, s)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := e.Extensions()[ExtTraceParent]; ok {
		t.Errorf("traceparent %v without a span", got)
	}

	ctx, span := tracing.Invocation(context.Background(), "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	defer span.End(nil)
	e, err = New(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := e.Extensions()[ExtTraceParent].(string)
	if got != tracing.TraceParent(ctx) || !strings.HasPrefix(got, "00-5759e988bd862e3fe1be46a994272793-") {
		t.Errorf("traceparent %q, want the span's %q in the upstream trace", got, tracing.TraceParent(ctx))
	}
	if TraceOf(e) != tracing.Header(ctx) {
		t.Errorf("TraceOf = %q, want the span's header %q", TraceOf(e), tracing.Header(ctx))
	}
	if _, ok := e.Extensions()[ExtCorrelationID]; ok {
		t.Error("correlationid without a request")
	}
	if err := explain.ValidateEvent(mustJSON(t, e)); err != nil {
		t.Errorf("with traceparent: %v", err)
	}
}

func TestNewRefusesWhatCannotBeSent(t *testing.T) {
	s, _ := example(t, "shop.order.confirmed.v1")
	tests := []struct {
		name     string
		change   func(s *Spec)
		wantText string
	}{
		{name: "no id", change: func(s *Spec) { s.ID = "" }, wantText: "has no id"},
		{name: "no subject", change: func(s *Spec) { s.Subject = "" }, wantText: "has no subject"},
		{name: "no source", change: func(s *Spec) { s.Source = "" }, wantText: "has no source"},
		{name: "no type", change: func(s *Spec) { s.Type = "" }, wantText: "has no type"},
		{name: "data that does not marshal", change: func(s *Spec) { s.Data = map[string]any{"f": func() {}} }, wantText: "data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := s
			tt.change(&spec)
			_, err := New(context.Background(), spec)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("New = %v, want ErrInvalid saying %q", err, tt.wantText)
			}
		})
	}
}

func TestCheckRefusesDataThatIsNotJSON(t *testing.T) {
	s, _ := example(t, "shop.order.confirmed.v1")
	e, err := New(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	bin := e.Clone()
	_ = bin.SetData("application/octet-stream", []byte{1, 2, 3})
	if err := Check(bin); !errors.Is(err, ErrInvalid) {
		t.Errorf("binary data: %v", err)
	}
	noID := e.Clone()
	noID.SetID("")
	if err := Check(noID); !errors.Is(err, ErrInvalid) {
		t.Errorf("no id: %v", err)
	}
}

// bigEvent is a valid event whose EventBridge entry weighs exactly size
// bytes. No type's data may grow that large, but the envelope leaves
// extensions open, so a padding extension makes the weight.
func bigEvent(t *testing.T, size int) event.Event {
	t.Helper()
	s, _ := example(t, "shop.user.created.v1")
	e, err := New(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	e.SetExtension("padding", "x")
	e.SetExtension("padding", strings.Repeat("x", 1+size-EntrySize(e.Source(), e.Type(), mustJSON(t, e), true)))
	if got := EntrySize(e.Source(), e.Type(), mustJSON(t, e), true); got != size {
		t.Fatalf("built an entry of %d bytes, want %d", got, size)
	}
	if err := explain.ValidateEvent(mustJSON(t, e)); err != nil {
		t.Fatalf("the big event fails its schema, so it proves nothing about size: %v", err)
	}
	return e
}

func TestCheckRefusesAnEntryOverTheLimit(t *testing.T) {
	if err := Check(bigEvent(t, MaxEntryBytes)); err != nil {
		t.Errorf("an entry of exactly %d bytes: %v", MaxEntryBytes, err)
	}
	err := Check(bigEvent(t, MaxEntryBytes+1))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "262145 bytes") {
		t.Errorf("an entry of %d bytes: %v, want ErrInvalid naming its size", MaxEntryBytes+1, err)
	}
}

func TestIDIsDeterministic(t *testing.T) {
	a, b := ID("shop.order.created.v1", "o-1"), ID("shop.order.created.v1", "o-1")
	if a != b || len(a) != 36 {
		t.Errorf("ID twice: %q %q", a, b)
	}
	for _, other := range []string{ID("shop.order.created.v1", "o-2"), ID("shop.order.confirmed.v1", "o-1"), ID("shop.order.created.v1", "o", "1")} {
		if other == a {
			t.Errorf("two changes share id %s", a)
		}
	}
}

// A producer links this package: it must cost its cold start nothing but
// the CloudEvents event package. The catalog is a validator and every
// schema (events/explain's library compiles metaschemas in its init:
// milliseconds), the EventBridge client has init of its own, and the
// CloudEvents client and protocol packages pull in a logging stack.
func TestLinksNeitherTheCatalogNorAClient(t *testing.T) {
	testenv.ForbidDeps(t, "github.com/shop-serverless/shop/shared/eventbus/envelope",
		"github.com/shop-serverless/shop/events", "github.com/santhosh-tekuri/jsonschema",
		"github.com/aws/aws-sdk-go-v2/service/eventbridge",
		"github.com/cloudevents/sdk-go/v2/client", "github.com/cloudevents/sdk-go/v2/protocol",
		"github.com/cloudevents/sdk-go/v2/binding", "go.uber.org/zap")
}

// The ids an event's spans are annotated with come from its data, for
// every type of the catalog that names them.
func TestAboutReadsTheIDsTheDataNames(t *testing.T) {
	for _, typ := range catalog.Types() {
		s, data := example(t, typ)
		e, err := New(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		want := aboutFields{}
		want.OrderID, _ = data["orderId"].(string)
		want.UserID, _ = data["userId"].(string)
		if got := about(e); got != want {
			t.Errorf("%s: about = %+v, want %+v", typ, got, want)
		}
		if strings.HasPrefix(typ, "shop.order.") && (want.OrderID != s.Subject || want.UserID == "") {
			t.Errorf("%s: an order's event names its order (%q, subject %q) and its user (%q)", typ, want.OrderID, s.Subject, want.UserID)
		}
	}
	e := event.New()
	_ = e.SetData(event.ApplicationJSON, []any{1})
	if got := about(e); got != (aboutFields{}) {
		t.Errorf("data not an object: %+v", got)
	}
}
