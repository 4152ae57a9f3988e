package livediff

import (
	"reflect"
	"slices"
	"testing"
)

func TestReplacePrefixOnlyAsWholeNamePart(t *testing.T) {
	tests := []struct{ in, want string }{
		{"shop", "{prefix}"},
		{"shop-users", "{prefix}-users"},
		{"arn:aws:dynamodb:us-east-1:1:table/shop-users/index/*", "arn:aws:dynamodb:us-east-1:1:table/{prefix}-users/index/*"},
		{"/shop/jwks", "/{prefix}/jwks"},
		{"shop/signing/users", "{prefix}/signing/users"},
		{"/aws/lambda/shop-users-get", "/aws/lambda/{prefix}-users-get"},
		{"Runs shop-users-get", "Runs {prefix}-users-get"},
		{`{"Resource":"arn:x:function:shop-a"}`, `{"Resource":"arn:x:function:{prefix}-a"}`},
		{"shop-api shop-users", "{prefix}-api {prefix}-users"},
		// Not a name part of its own: another word, another name.
		{"workshop-users", "workshop-users"},
		{"my-shop-users", "my-shop-users"},
		{"v1.shop-x", "v1.shop-x"},
		{"shopping", "shopping"},
		{"shop_x", "shop_x"},
		{"the shop stack", "the shop stack"},
		{"shop function users-login", "shop function users-login"},
		{"shop-shop", "{prefix}-shop"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := replacePrefix(tt.in, "shop"); got != tt.want {
			t.Errorf("replacePrefix(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestOwnershipLeavesNestedStacksOut(t *testing.T) {
	// Stacks found on the emulator: this one, one that extends it with a
	// dash (whose names also start with "shop-"), and two that do not.
	n := newNormaliser("shop", []string{"shop", "shop-tf", "shopx", "other", "shop-tf"})
	if want := []string{"shop-tf"}; !slices.Equal(n.nested, want) {
		t.Fatalf("nested = %v, want %v", n.nested, want)
	}
	owns := map[string]bool{
		"shop":               true,
		"shop-users":         true,
		"shop-users-get":     true,
		"shop/signing/users": true,
		"shop-tf":            false,
		"shop-tf-users":      false,
		"shop-tf/signing/x":  false,
		"shopx-users":        false,
		"workshop-users":     false,
		"shopping":           false,
		"other-users":        false,
	}
	for name, want := range owns {
		if got := n.owns(name); got != want {
			t.Errorf("owns(%q) = %v, want %v", name, got, want)
		}
	}
	paths := map[string]bool{
		"/shop/jwks":                      true,
		"/aws/lambda/shop-users-get":      true,
		"/aws/apigateway/shop-api/access": true,
		"/shop-tf/jwks":                   false,
		"/aws/lambda/shop-tf-users-get":   false,
		"/aws/lambda/workshop-users-get":  false,
	}
	for name, want := range paths {
		if got := n.ownsPath(name); got != want {
			t.Errorf("ownsPath(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestNormaliseIDsAccountsAndSecretSuffixes(t *testing.T) {
	n := newNormaliser("shop", nil)
	n.id("a1b2c3d4", "{api}")
	n.id("9f8e7d6c", "{authorizer}")
	tests := []struct{ in, want string }{
		{"arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4/*/GET/v1/users/*", "arn:aws:execute-api:us-east-1:{account}:{api}/*/GET/v1/users/*"},
		{"apigateway-a1b2c3d4-authorizer-9f8e7d6c", "apigateway-{api}-authorizer-{authorizer}"},
		{"arn:aws:execute-api:us-east-1:000000000000:a1b2c3d4/authorizers/9f8e7d6c", "arn:aws:execute-api:us-east-1:{account}:{api}/authorizers/{authorizer}"},
		// Only whole words are ids.
		{"xa1b2c3d4", "xa1b2c3d4"},
		{"a1b2c3d4e", "a1b2c3d4e"},
		// The account field of an ARN, and no other 12 digits.
		{"arn:aws:iam::123456789012:role/shop-users-get", "arn:aws:iam::{account}:role/{prefix}-users-get"},
		{"order 123456789012", "order 123456789012"},
		// A secret ARN's random suffix, but not a policy's pattern for it.
		{"arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/signing/users-AbC123", "arn:aws:secretsmanager:us-east-1:{account}:secret:{prefix}/signing/users-{suffix}"},
		{"arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/signing/users-??????", "arn:aws:secretsmanager:us-east-1:{account}:secret:{prefix}/signing/users-??????"},
	}
	for _, tt := range tests {
		if got := n.str(tt.in); got != tt.want {
			t.Errorf("str(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNormaliseStateRewritesKeysAndValues(t *testing.T) {
	n := newNormaliser("shop", nil)
	n.id("abc12345", "{api}")
	raw := &State{
		Prefix: "shop",
		Functions: map[string]Function{
			"shop-users-get": {
				Role:        "shop-users-get",
				Environment: map[string]string{"SHOP_TABLE": "shop-users", "SHOP_PREFIX": "shop"},
				Layers:      []string{"arn:aws:lambda:us-east-1:123456789012:layer:shop-x:1"},
				Policy: Policy{Statements: map[string]string{
					"sid apigateway-abc12345": `{"Condition":{"ArnLike":{"AWS:SourceArn":["arn:aws:execute-api:us-east-1:123456789012:abc12345/*/GET/v1/users/*"]}}}`,
				}},
			},
		},
		// Two keys that normalise alike stay two entries.
		Secrets: map[string]Secret{"shop/a": {Description: "1"}, "{prefix}/a": {Description: "2"}},
	}
	got := n.state(raw)
	want := Function{
		Role:        "{prefix}-users-get",
		Environment: map[string]string{"SHOP_TABLE": "{prefix}-users", "SHOP_PREFIX": "{prefix}"},
		Layers:      []string{"arn:aws:lambda:us-east-1:{account}:layer:{prefix}-x:1"},
		Policy: Policy{Statements: map[string]string{
			"sid apigateway-{api}": `{"Condition":{"ArnLike":{"AWS:SourceArn":["arn:aws:execute-api:us-east-1:{account}:{api}/*/GET/v1/users/*"]}}}`,
		}},
	}
	if f, ok := got.Functions["{prefix}-users-get"]; !ok || !reflect.DeepEqual(f, want) {
		t.Errorf("normalised function = %+v (present %v), want %+v", f, ok, want)
	}
	if got.Prefix != "shop" {
		t.Errorf("Prefix = %q, want the raw prefix", got.Prefix)
	}
	if len(got.Secrets) != 2 {
		t.Errorf("secrets = %v, want both kept", got.Secrets)
	}
	if raw.Functions["shop-users-get"].Environment["SHOP_PREFIX"] != "shop" {
		t.Error("normalising changed the raw state")
	}
}
