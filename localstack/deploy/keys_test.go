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
		name     string
		services []*manifest.Service
		want     []string
	}{
		{"nobody mints: the operator still does", []*manifest.Service{
			{Name: "users", Functions: []*manifest.Function{fn("users", "get", false)}},
		}, []string{"operator"}},
		{"the services that declare tokens, sorted", []*manifest.Service{
			{Name: "users", Tokens: &manifest.Tokens{Kinds: []string{"user"}}, Functions: []*manifest.Function{fn("users", "login", true), fn("users", "refresh", true)}},
			{Name: "orders", Tokens: &manifest.Tokens{Kinds: []string{"service"}, Scopes: []string{"users:read"}}, Functions: []*manifest.Function{fn("orders", "create", true)}},
			{Name: "inventory", Functions: []*manifest.Function{fn("inventory", "get", false)}},
		}, []string{"operator", "orders", "users"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := &manifest.Set{Services: tt.services}
			if got := issuers(set); !slices.Equal(got, tt.want) {
				t.Errorf("issuers = %v, want %v", got, tt.want)
			}
		})
	}
}
