package explain_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	catalog "github.com/shop-serverless/shop/events"
	"github.com/shop-serverless/shop/events/explain"
)

func TestEveryExampleValidates(t *testing.T) {
	for _, typ := range catalog.Types() {
		ex, err := catalog.Example(typ)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if err := explain.Validate(typ, ex); err != nil {
			t.Errorf("%s: example: %v", typ, err)
		}
		if err := explain.ValidateEvent(ex); err != nil {
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
	data["items"].([]any)[0].(map[string]any)["quantity"] = 0
	e["time"] = "yesterday"
	bad, _ := json.Marshal(e)

	err = explain.Validate("shop.order.created.v1", bad)
	var ve *catalog.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate = %v, want a *catalog.ValidationError", err)
	}
	var paths []string
	for _, c := range ve.Causes {
		paths = append(paths, c.Path)
	}
	got := strings.Join(paths, " ")
	for _, want := range []string{"/data/total/amount", "/data/total/currency", "/data/items/0/quantity", "/time", "/data"} {
		if !strings.Contains(got, want) {
			t.Errorf("causes %v do not name %s", ve.Causes, want)
		}
	}
}

func TestValidateRejectsAnotherTypesEvent(t *testing.T) {
	ex, _ := catalog.Example("shop.order.confirmed.v1")
	if err := explain.Validate("shop.order.created.v1", ex); err == nil {
		t.Fatal("an order.confirmed event validated as order.created")
	}
	if err := explain.Validate("shop.nothing.happened.v1", ex); !errors.Is(err, catalog.ErrUnknownType) {
		t.Fatalf("unknown type: %v, want ErrUnknownType", err)
	}
	if err := explain.ValidateEvent([]byte(`{"type":"shop.order.created.v1"`)); err == nil {
		t.Fatal("truncated JSON validated")
	}
}
