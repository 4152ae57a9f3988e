package main

import (
	"slices"
	"testing"

	"github.com/shop-serverless/shop/shared/manifest"
)

func TestIssuers(t *testing.T) {
	fn := func(service, op string, signs bool) *manifest.Function {
		return &manifest.Function{Name: service + "-" + op, Service: service, Permissions: manifest.Permissions{SigningKey: signs}}
	}
	tests := []struct {
		name string
		fns  []*manifest.Function
		want []string
	}{
		{"nobody signs: the operator still does", []*manifest.Function{fn("users", "get", false)}, []string{"operator"}},
		{"once per service, sorted", []*manifest.Function{
			fn("users", "login", true), fn("users", "refresh", true), fn("orders", "create", true), fn("inventory", "get", false),
		}, []string{"operator", "orders", "users"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := &manifest.Set{Services: []*manifest.Service{{Functions: tt.fns}}}
			if got := issuers(set); !slices.Equal(got, tt.want) {
				t.Errorf("issuers = %v, want %v", got, tt.want)
			}
		})
	}
}
