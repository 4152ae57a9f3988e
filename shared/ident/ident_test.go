package ident_test

import (
	"testing"

	"github.com/shop-serverless/shop/shared/ident"
	"github.com/shop-serverless/shop/shared/ident/identtest"
)

func TestChecksMatchTheirExpressions(t *testing.T) {
	identtest.SameAs(t, "ID", ident.ID, `^[A-Za-z0-9_-]{1,128}$`)
	identtest.SameAs(t, "Word(64, ._-)", func(s string) bool { return ident.Word(s, 64, "._-") }, `^[A-Za-z0-9._-]{0,64}$`)
}
