package catalog_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	catalog "github.com/shop-serverless/shop/events"
)

func TestEveryExampleValidates(t *testing.T) {
	types := catalog.Types()
	if len(types) < 11 {
		t.Fatalf("catalog has %d types, want at least the 11 the design names: %v", len(types), types)
	}
	for _, typ := range types {
		ex, err := catalog.Example(typ)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if err := catalog.Validate(typ, ex); err != nil {
			t.Errorf("%s: example: %v", typ, err)
		}
		if err := catalog.ValidateEvent(ex); err != nil {
			t.Errorf("%s: example by its own type: %v", typ, err)
		}
	}
}

func TestValidateNamesTheFailingPaths(t *testing.T) {
	ex, err := catalog.Example("shop.order.created.v1")
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	if err := json.Unmarshal(ex, &e); err != nil {
		t.Fatal(err)
	}
	data := e["data"].(map[string]any)
	data["total"] = map[string]any{"amount": -1, "currency": "euro"}
	delete(data, "userId")
	data["extra"] = true
	e["time"] = "yesterday"
	bad, _ := json.Marshal(e)

	err = catalog.Validate("shop.order.created.v1", bad)
	var ve *catalog.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate = %v, want a *ValidationError", err)
	}
	var paths []string
	for _, c := range ve.Causes {
		paths = append(paths, c.Path)
	}
	got := strings.Join(paths, " ")
	for _, want := range []string{"/data/total/amount", "/data/total/currency", "/time", "/data"} {
		if !strings.Contains(got, want) {
			t.Errorf("causes %v do not name %s", ve.Causes, want)
		}
	}
}

func TestValidateRejectsAnotherTypesEvent(t *testing.T) {
	ex, _ := catalog.Example("shop.order.confirmed.v1")
	if err := catalog.Validate("shop.order.created.v1", ex); err == nil {
		t.Fatal("an order.confirmed event validated as order.created")
	}
	if err := catalog.Validate("shop.nothing.happened.v1", ex); !errors.Is(err, catalog.ErrUnknownType) {
		t.Fatalf("unknown type: %v, want ErrUnknownType", err)
	}
	if err := catalog.ValidateEvent([]byte(`{"type":"shop.order.created.v1"`)); err == nil {
		t.Fatal("truncated JSON validated")
	}
}
