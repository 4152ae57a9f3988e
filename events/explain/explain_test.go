package explain_test

import (
	"encoding/json"
	"errors"
	"os/exec"
	"slices"
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

// Its library costs every cold start 3 to 4 ms of package init: of the
// functions, only platform-ingest, which must list every failing place,
// may link it.
func TestOnlyIngestLinksIt(t *testing.T) {
	const ingest = "github.com/shop-serverless/shop/functions/platform/ingest"
	out, err := exec.Command("go", "list", "-f", `{{if eq .Name "main"}}{{.ImportPath}} {{join .Deps " "}}{{end}}`, "../../functions/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	mains := 0
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		mains++
		fn, deps := fields[0], fields[1:]
		links := slices.ContainsFunc(deps, func(d string) bool {
			return d == "github.com/shop-serverless/shop/events/explain" || strings.HasPrefix(d, "github.com/santhosh-tekuri/jsonschema")
		})
		if links != (fn == ingest) {
			t.Errorf("%s links events/explain or its library: %v", fn, links)
		}
	}
	if mains < 10 {
		t.Fatalf("go list found %d functions; the check would prove nothing", mains)
	}
}
