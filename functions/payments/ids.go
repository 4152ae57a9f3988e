package payments

import "github.com/shop-serverless/shop/shared/ident"

// validID is ident.ID: the ids orders and users make.
func validID(s string) bool { return ident.ID(s) }

// validToken is ^[A-Za-z0-9_]{1,128}$ (written out: shared/ident): it
// bounds a payment token; the provider decides what it means.
func validToken(s string) bool { return s != "" && ident.Word(s, 128, "_") }
