package principal

import (
	"context"
	"reflect"
	"testing"
)

func TestAuthorizerContextRoundTrip(t *testing.T) {
	p := Principal{Subject: "0190c3c4-0000-7000-8000-000000000001", Kind: KindUser, Issuer: "shop-users", Scopes: []string{"a:b", "c:d"}}
	got, ok := FromAuthorizerContext(p.AuthorizerContext())
	if !ok || !reflect.DeepEqual(got, p) {
		t.Fatalf("round trip = %+v, %v; want %+v", got, ok, p)
	}
}

func TestFromAuthorizerContextRefuses(t *testing.T) {
	for name, m := range map[string]map[string]any{
		"empty":          {},
		"no subject":     {"kind": "user", "issuer": "shop-users"},
		"unknown kind":   {"principal": "x", "kind": "admin"},
		"kind not a str": {"principal": "x", "kind": 1},
	} {
		if p, ok := FromAuthorizerContext(m); ok {
			t.Errorf("%s: accepted as %+v", name, p)
		}
	}
}

func TestContextAndID(t *testing.T) {
	if _, ok := FromContext(context.Background()); ok {
		t.Fatal("empty context has a principal")
	}
	a := Principal{Subject: "orders", Kind: KindService, Issuer: "shop-orders"}
	b := Principal{Subject: "orders", Kind: KindService, Issuer: "shop-operator"}
	got, ok := FromContext(WithContext(context.Background(), a))
	if !ok || got.ID() != "shop-orders/orders" {
		t.Fatalf("FromContext = %+v, %v", got, ok)
	}
	if a.ID() == b.ID() {
		t.Fatal("one subject under two issuers must be two callers")
	}
	if a.HasScope("x") || !(Principal{Scopes: []string{"x"}}).HasScope("x") {
		t.Fatal("HasScope")
	}
}
