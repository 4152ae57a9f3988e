package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	catalog "github.com/shop-serverless/shop/events"
	"github.com/shop-serverless/shop/shared/eventbus/envelope"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/testenv"
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

// exampleEvent is New of a catalog example.
func exampleEvent(t *testing.T, typ string) event.Event {
	t.Helper()
	s, _ := example(t, typ)
	e, err := New(context.Background(), s)
	if err != nil {
		t.Fatalf("New(%s): %v", typ, err)
	}
	return e
}

func mustJSON(t *testing.T, e event.Event) []byte {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewAcceptsEveryTypesExample(t *testing.T) {
	for _, typ := range catalog.Types() {
		e := exampleEvent(t, typ)
		if e.DataSchema() != catalog.SchemaURI(typ) {
			t.Errorf("%s: dataschema %s", typ, e.DataSchema())
		}
	}
}

func TestNewChecksTheSchema(t *testing.T) {
	s, data := example(t, "shop.order.confirmed.v1")
	d := map[string]any{}
	for k, v := range data {
		d[k] = v
	}
	delete(d, "total")
	s.Data = d
	_, err := New(context.Background(), s)
	var ve *catalog.ValidationError
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &ve) || !strings.Contains(err.Error(), "/properties/data") || !strings.Contains(err.Error(), "total") {
		t.Errorf("New = %v, want ErrInvalid with a *catalog.ValidationError naming the schema's data and the missing total", err)
	}
	s.Type = "shop.order.lost.v1"
	if _, err := New(context.Background(), s); !errors.Is(err, ErrInvalid) || !errors.Is(err, catalog.ErrUnknownType) {
		t.Errorf("unknown type: %v", err)
	}
}

// bigEvent is a valid event whose EventBridge entry weighs exactly size
// bytes (as in envelope's tests: a padding extension makes the weight).
func bigEvent(t *testing.T, size int) event.Event {
	t.Helper()
	e := exampleEvent(t, "shop.user.created.v1")
	e.SetExtension("padding", "x")
	e.SetExtension("padding", strings.Repeat("x", 1+size-envelope.EntrySize(e.Source(), e.Type(), mustJSON(t, e), true)))
	if got := envelope.EntrySize(e.Source(), e.Type(), mustJSON(t, e), true); got != size {
		t.Fatalf("built an entry of %d bytes, want %d", got, size)
	}
	return e
}

func TestEntry(t *testing.T) {
	e := exampleEvent(t, "shop.order.created.v1")
	en, err := Entry(e)
	if err != nil {
		t.Fatal(err)
	}
	b := mustJSON(t, e)
	if *en.Source != "shop.orders" || *en.DetailType != "shop.order.created.v1" || *en.Detail != string(b) ||
		!en.Time.Equal(e.Time()) || en.EventBusName != nil || en.TraceHeader != nil {
		t.Errorf("entry %+v", en)
	}
	if want := 14 + len("shop.orders") + len("shop.order.created.v1") + len(b); EntrySize(en) != want {
		t.Errorf("EntrySize = %d, want %d", EntrySize(en), want)
	}
	en.Resources = []string{"arn:1", "ünï"}
	if want := 14 + len("shop.orders") + len("shop.order.created.v1") + len(b) + 5 + 5; EntrySize(en) != want {
		t.Errorf("EntrySize with resources = %d, want %d (UTF-8 bytes)", EntrySize(en), want)
	}
	if _, err := Entry(bigEvent(t, MaxEntryBytes+1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("Entry of an oversize event: %v", err)
	}
}

func TestEnvNamesMatchTheManifest(t *testing.T) {
	if EnvEventBus != manifest.EnvEventBus {
		t.Errorf("EnvEventBus %q, manifest says %q", EnvEventBus, manifest.EnvEventBus)
	}
}

// What publishes must not link the CloudEvents SDK's client and protocol
// packages, which pull in a logging stack and cost every cold start their
// init, nor the manifest loader, nor a validator that compiles metaschemas
// in its init (events/explain's: Check uses the catalog's).
func TestLinksOnlyTheEventPackage(t *testing.T) {
	testenv.ForbidDeps(t, "github.com/shop-serverless/shop/shared/eventbus",
		"github.com/cloudevents/sdk-go/v2/client", "github.com/cloudevents/sdk-go/v2/protocol",
		"github.com/cloudevents/sdk-go/v2/binding", "go.uber.org/zap", "github.com/shop-serverless/shop/shared/manifest",
		"github.com/shop-serverless/shop/events/explain", "github.com/santhosh-tekuri/jsonschema")
}
