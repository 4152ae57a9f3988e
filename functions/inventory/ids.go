package inventory

import "github.com/shop-serverless/shop/shared/ident"

// SKUPattern is what validSKU accepts, as the API documents it.
const SKUPattern = `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`

// validSKU is SKUPattern (written out: shared/ident).
func validSKU(s string) bool { return s != "" && ident.Alnum(s[0]) && ident.Word(s, 64, "._-") }

// validOrderID is ident.ID: the ids orders makes.
func validOrderID(s string) bool { return ident.ID(s) }
