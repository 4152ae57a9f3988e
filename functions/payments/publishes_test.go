package payments

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
)

// service.yaml declares exactly the types this package writes to its
// outbox, with the source its events carry.
func TestServiceDeclaresWhatItPublishes(t *testing.T) {
	set, err := manifest.Load(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	svc := set.Service(Service)
	if svc == nil {
		t.Fatalf("no service %q", Service)
	}
	want := []string{TypeCharged, TypeDeclined, TypeRefunded}
	got := slices.Sorted(slices.Values(svc.Publishes))
	if !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("service.yaml publishes %v, the code %v", got, want)
	}
	for _, typ := range want {
		if p, ok := set.Producer(typ); !ok || p.Source != naming.EventSource(Service) {
			t.Errorf("%s: producer %+v", typ, p)
		}
	}
}
