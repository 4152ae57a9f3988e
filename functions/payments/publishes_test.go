package payments

import (
	"testing"

	"github.com/shop-serverless/shop/shared/outbox/outboxtest"
)

// service.yaml declares exactly the types this package writes to its
// outbox, with the source its events carry.
func TestServiceDeclaresWhatItPublishes(t *testing.T) {
	outboxtest.Declares(t, "../..", Service, TypeCharged, TypeDeclined, TypeRefunded)
}
