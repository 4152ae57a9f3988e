package ssmkeys

import (
	"crypto/ed25519"
	"time"

	"github.com/shop-serverless/shop/shared/clocktest"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/servicetoken/internal/awstest"
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

// Shared fixtures (internal/tokentest, internal/awstest).
var (
	testKey  = tokentest.Key
	pub      = tokentest.Public
	newClock = clocktest.New
	policyOf = awstest.PolicyOf
	jwksOf   = awstest.JWKS
)
