package awstest

import (
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/servicetoken"
)

// PolicyOf is what the issuer of service may mint in these tests: users
// mints user tokens (login), the operator service tokens with any scope,
// any other service service tokens as itself with users:read.
func PolicyOf(service string) servicetoken.Policy {
	switch service {
	case naming.UserTokenService:
		return servicetoken.Policy{Kinds: []string{servicetoken.KindUser}}
	case naming.OperatorIssuer:
		return servicetoken.Policy{Kinds: []string{servicetoken.KindService}, Subject: naming.OperatorIssuer, AnyScope: true}
	}
	return servicetoken.Policy{Kinds: []string{servicetoken.KindService}, Subject: service, Scopes: []string{"users:read"}}
}

// JWKS renders a JWK Set holding the given (issuer, kid, private key)
// triples, each key with the PolicyOf its issuer's service (the issuer
// less the fixtures' "shop-" prefix): a value for the JWKS parameter.
func JWKS(t testing.TB, keys ...any) string {
	t.Helper()
	doc := &servicetoken.JWKSDocument{}
	for i := 0; i+2 < len(keys); i += 3 {
		iss := keys[i].(string)
		key := keys[i+2].(ed25519.PrivateKey).Public().(ed25519.PublicKey)
		if _, err := doc.Upsert(iss, keys[i+1].(string), key, PolicyOf(strings.TrimPrefix(iss, "shop-"))); err != nil {
			t.Fatal(err)
		}
	}
	out, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
