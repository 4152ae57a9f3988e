package inventory

import (
	"testing"

	"github.com/shop-serverless/shop/shared/ident/identtest"
)

func TestIdentifierChecksMatchTheirExpressions(t *testing.T) {
	identtest.SameAs(t, "validSKU", validSKU, SKUPattern)
	identtest.SameAs(t, "validOrderID", validOrderID, `^[A-Za-z0-9_-]{1,128}$`)
}
