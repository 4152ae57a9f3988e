package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	catalog "github.com/shop-serverless/shop/events"
	"github.com/shop-serverless/shop/shared/manifest"
)

// Every type of the catalog has one producer in the manifests, and its
// example carries that producer's source: the list in events/README.md
// names no orphan, and an example put on the bus reaches the consumers the
// list says.
func TestEveryCatalogTypeHasItsProducer(t *testing.T) {
	set, err := manifest.Load(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if len(set.EventTypes) != len(catalog.Types()) {
		t.Fatalf("the manifests see %d types, the catalog has %d", len(set.EventTypes), len(catalog.Types()))
	}
	for _, typ := range set.EventTypes {
		p, ok := set.Producer(typ)
		if !ok {
			t.Errorf("%s: nothing publishes it (a service's publishes, or an ingest registration)", typ)
			continue
		}
		raw, err := catalog.Example(typ)
		if err != nil {
			t.Fatal(err)
		}
		var head struct{ Source string }
		if err := json.Unmarshal(raw, &head); err != nil {
			t.Fatal(err)
		}
		if head.Source != p.Source {
			t.Errorf("events/%s.example.json: source %q, but its producer publishes as %q", typ, head.Source, p.Source)
		}
	}
}
