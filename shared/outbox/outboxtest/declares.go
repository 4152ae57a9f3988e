package outboxtest

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
)

// Declares fails t unless the service's service.yaml (under the repository
// root, root) publishes exactly types, the types its code writes to its
// outbox, each with the service's own source.
//
//	func TestServiceDeclaresWhatItPublishes(t *testing.T) {
//		outboxtest.Declares(t, "../..", Service, TypeOrderCreated, TypeOrderConfirmed)
//	}
func Declares(t *testing.T, root, service string, types ...string) {
	t.Helper()
	set, err := manifest.Load(filepath.FromSlash(root))
	if err != nil {
		t.Fatal(err)
	}
	svc := set.Service(service)
	if svc == nil {
		t.Fatalf("no service %q", service)
	}
	if got, want := slices.Sorted(slices.Values(svc.Publishes)), slices.Sorted(slices.Values(types)); !slices.Equal(got, want) {
		t.Errorf("%s/service.yaml publishes %v, the code %v", svc.Dir, got, want)
	}
	for _, typ := range types {
		if p, ok := set.Producer(typ); !ok || p.Source != naming.EventSource(service) {
			t.Errorf("%s: producer %+v, want %s", typ, p, naming.EventSource(service))
		}
	}
}
