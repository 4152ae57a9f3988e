package users

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// RegisterSecrets must name the password as the body spells it, and only
// fields the body has: a renamed field would otherwise be fingerprinted
// (and so stored, hashed) by the idempotency middleware without a word.
func TestRegisterSecretsAreRegisterRequestFields(t *testing.T) {
	typ := reflect.TypeFor[RegisterRequest]()
	jsonName := func(field string) string {
		f, ok := typ.FieldByName(field)
		if !ok {
			t.Fatalf("RegisterRequest has no field %s", field)
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		return name
	}
	secrets := RegisterSecrets()
	if !slices.Contains(secrets, jsonName("Password")) {
		t.Fatalf("RegisterSecrets() = %v, want the password's JSON name %q in it", secrets, jsonName("Password"))
	}
	names := map[string]bool{}
	for i := range typ.NumField() {
		names[jsonName(typ.Field(i).Name)] = true
	}
	for _, s := range secrets {
		if !names[s] {
			t.Errorf("RegisterSecrets() names %q, which RegisterRequest does not have", s)
		}
	}
}
