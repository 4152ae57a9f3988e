package payments

import (
	"testing"

	"github.com/shop-serverless/shop/shared/ident/identtest"
)

func TestIdentifierChecksMatchTheirExpressions(t *testing.T) {
	identtest.SameAs(t, "validID", validID, `^[A-Za-z0-9_-]{1,128}$`)
	identtest.SameAs(t, "validToken", validToken, `^[A-Za-z0-9_]{1,128}$`)
}
