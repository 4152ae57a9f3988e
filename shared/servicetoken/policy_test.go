package servicetoken

import (
	"strings"
	"testing"
)

// The policies of the test fixtures' issuers (see newFixture): login, a
// service calling others, the operator.
var (
	usersPolicy    = Policy{Kinds: []string{KindUser}}
	ordersPolicy   = Policy{Kinds: []string{KindService}, Subject: "orders", Scopes: []string{"users:read", "inventory:write"}}
	operatorPolicy = Policy{Kinds: []string{KindService}, Subject: "operator", AnyScope: true}
)

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name    string
		p       Policy
		wantErr string // "" for valid
	}{
		{"users", usersPolicy, ""},
		{"orders", ordersPolicy, ""},
		{"operator", operatorPolicy, ""},
		{"service, no scopes", Policy{Kinds: []string{KindService}, Subject: "inventory"}, ""},
		{"both kinds", Policy{Kinds: []string{KindUser, KindService}, Subject: "users", Scopes: []string{"users:read"}}, ""},
		{"zero", Policy{}, "no kinds"},
		{"unknown kind", Policy{Kinds: []string{"admin"}}, "kind"},
		{"kind twice", Policy{Kinds: []string{KindUser, KindUser}}, "twice"},
		{"service without subject", Policy{Kinds: []string{KindService}, Scopes: []string{"users:read"}}, "subject"},
		{"subject with a space", Policy{Kinds: []string{KindService}, Subject: "or ders"}, "subject"},
		{"user-only with a subject", Policy{Kinds: []string{KindUser}, Subject: "users"}, "does not mint"},
		{"user-only with scopes", Policy{Kinds: []string{KindUser}, Scopes: []string{"users:read"}}, "does not mint"},
		{"user-only with any scope", Policy{Kinds: []string{KindUser}, AnyScope: true}, "does not mint"},
		{"any scope and a list", Policy{Kinds: []string{KindService}, Subject: "operator", AnyScope: true, Scopes: []string{"users:read"}}, "together"},
		{"wildcard as a scope", Policy{Kinds: []string{KindService}, Subject: "orders", Scopes: []string{"*"}}, "scope"},
		{"empty scope", Policy{Kinds: []string{KindService}, Subject: "orders", Scopes: []string{""}}, "scope"},
		{"scope twice", Policy{Kinds: []string{KindService}, Subject: "orders", Scopes: []string{"a:b", "a:b"}}, "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an error about %q", err, tt.wantErr)
			}
		})
	}
}
