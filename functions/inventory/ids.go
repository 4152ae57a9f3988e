package inventory

import "github.com/shop-serverless/shop/shared/ident"

// validSKU is ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ (written out: shared/ident).
func validSKU(s string) bool { return s != "" && ident.Alnum(s[0]) && ident.Word(s, 64, "._-") }

// validOrderID is ident.ID: the ids orders makes.
func validOrderID(s string) bool { return ident.ID(s) }
