package jwksstore

import (
	"crypto/ed25519"
	"testing"

	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/servicetoken/internal/tokentest"
)

// Fixtures: two issuers, each with a key (the same as servicetoken's tests).
const (
	usersIssuer  = tokentest.UsersIssuer
	ordersIssuer = tokentest.OrdersIssuer
	usersKID     = tokentest.UsersKID
	ordersKID    = tokentest.OrdersKID
	testParam    = "/shop/jwks"
)

// jwksOf renders a JWKS holding the given (issuer, kid, key) triples, each
// key with a policy of service tokens as the issuer.
func jwksOf(t testing.TB, keys ...any) string {
	t.Helper()
	doc := &servicetoken.JWKSDocument{}
	for i := 0; i+2 < len(keys); i += 3 {
		iss := keys[i].(string)
		policy := servicetoken.Policy{Kinds: []string{servicetoken.KindService}, Subject: iss}
		key := keys[i+2].(ed25519.PrivateKey).Public().(ed25519.PublicKey)
		if _, err := doc.Upsert(iss, keys[i+1].(string), key, policy); err != nil {
			t.Fatal(err)
		}
	}
	out, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// testKey is the shared fixture (internal/tokentest).
var testKey = tokentest.Key
