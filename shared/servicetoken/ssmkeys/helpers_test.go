package ssmkeys

import (
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/servicetoken/internal/tokentest"
)

// Fixtures: two issuers, each with a key (the same as servicetoken's tests).
const (
	testAudience = tokentest.Audience
	usersIssuer  = tokentest.UsersIssuer
	ordersIssuer = tokentest.OrdersIssuer
	usersKID     = tokentest.UsersKID
	ordersKID    = tokentest.OrdersKID
	testParam    = "/shop/jwks"
)

var t0 = tokentest.T0

// Forging helpers shared with the other token packages' tests.
var (
	signRaw  = tokentest.SignRaw
	edHeader = tokentest.EdHeader
)

type fixture struct {
	usersKey, ordersKey ed25519.PrivateKey
}

func newFixture() fixture {
	return fixture{usersKey: testKey("users"), ordersKey: testKey("orders")}
}

// issuerPolicy is what an issuer of these tests may mint: users (or
// shop-users) user tokens, any other service service tokens as itself
// with users:read.
func issuerPolicy(issuer string) servicetoken.Policy {
	svc := strings.TrimPrefix(issuer, "shop-")
	if svc == "users" {
		return servicetoken.Policy{Kinds: []string{servicetoken.KindUser}}
	}
	return servicetoken.Policy{Kinds: []string{servicetoken.KindService}, Subject: svc, Scopes: []string{"users:read"}}
}

// jwksOf renders a JWKS holding the given (issuer, kid, key) triples, each
// key with its issuer's policy.
func jwksOf(t testing.TB, keys ...any) string {
	t.Helper()
	doc := &servicetoken.JWKSDocument{}
	for i := 0; i+2 < len(keys); i += 3 {
		iss := keys[i].(string)
		if _, err := doc.Upsert(iss, keys[i+1].(string), pub(keys[i+2].(ed25519.PrivateKey)), issuerPolicy(iss)); err != nil {
			t.Fatal(err)
		}
	}
	out, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// claimsAt is a valid service token's payload issued at iat.
func claimsAt(iss string, iat time.Time, ttl time.Duration) map[string]any {
	return map[string]any{
		"iss": iss, "sub": "orders", "aud": []string{testAudience}, "jti": "jti-1", "kind": servicetoken.KindService,
		"iat": iat.Unix(), "nbf": iat.Unix(), "exp": iat.Add(ttl).Unix(), "scope": "users:read",
	}
}

// serviceToken is a token of kid's issuer signed with key at iat.
func serviceToken(key ed25519.PrivateKey, issuer, kid string, iat time.Time) string {
	return signRaw(key, edHeader(kid), claimsAt(issuer, iat, time.Minute))
}

// Shared fixtures (internal/tokentest).
var (
	testKey  = tokentest.Key
	pub      = tokentest.Public
	newClock = tokentest.NewClock
)

type clock = tokentest.Clock
