package servicetoken

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/servicetoken/internal/tokentest"
)

// Fixtures shared by the tests: issuers, each with a key and the policy of
// its kind of issuer (users: login; orders: a service calling others;
// operator: tools; legacy: a key published before policies existed), and a
// clock.
const (
	testAudience    = tokentest.Audience
	usersIssuer     = tokentest.UsersIssuer
	ordersIssuer    = tokentest.OrdersIssuer
	operatorIssuer  = "shop-operator"
	legacyIssuer    = "shop-legacy"
	usersKID        = tokentest.UsersKID
	ordersKID       = tokentest.OrdersKID
	strangerKID     = "shop-stranger-20260301T120000-cccc"
	operatorKID     = "shop-operator-20260301T120000-dddd"
	legacyKID       = "shop-legacy-20260301T120000-eeee"
	testServiceTTL  = 2 * time.Minute
	testUserTTLLong = 30 * time.Minute
)

var t0 = tokentest.T0

// Forging helpers shared with the other token packages' tests.
var (
	seg      = tokentest.Seg
	signRaw  = tokentest.SignRaw
	edHeader = tokentest.EdHeader
)

type fixture struct {
	usersKey, ordersKey, operatorKey, legacyKey ed25519.PrivateKey
	keys                                        KeySet
}

func newFixture() fixture {
	f := fixture{usersKey: testKey("users"), ordersKey: testKey("orders"), operatorKey: testKey("operator"), legacyKey: testKey("legacy")}
	f.keys = KeySet{
		usersKID:    {Issuer: usersIssuer, Key: pub(f.usersKey), Policy: usersPolicy},
		ordersKID:   {Issuer: ordersIssuer, Key: pub(f.ordersKey), Policy: ordersPolicy},
		operatorKID: {Issuer: operatorIssuer, Key: pub(f.operatorKey), Policy: operatorPolicy},
		legacyKID:   {Issuer: legacyIssuer, Key: pub(f.legacyKey)}, // no policy
	}
	return f
}

// signer returns a Signer whose clock reads at.
func (f fixture) signer(issuer string, at time.Time) *Signer {
	var s *Signer
	switch issuer {
	case usersIssuer:
		s = NewSigner(usersIssuer, usersKID, f.usersKey)
	case ordersIssuer:
		s = NewSigner(ordersIssuer, ordersKID, f.ordersKey)
	default:
		panic("no key for " + issuer)
	}
	s.now = func() time.Time { return at }
	return s
}

func (f fixture) verifier(at time.Time, opts ...Option) *Verifier {
	opts = append([]Option{WithClock(func() time.Time { return at }), WithUserIssuer(usersIssuer)}, opts...)
	return NewVerifier(StaticKeySource(f.keys), testAudience, opts...)
}

func issue(t testing.TB, s *Signer, kind, sub string, scopes []string, ttl time.Duration) (string, Claims) {
	t.Helper()
	tok, c, err := s.Issue(kind, sub, []string{testAudience}, scopes, ttl)
	if err != nil {
		t.Fatalf("issue: %v", err)
	}
	return tok, c
}

// claimsAt is a valid service token's payload issued at iat.
func claimsAt(iss string, iat time.Time, ttl time.Duration) map[string]any {
	return map[string]any{
		"iss": iss, "sub": "orders", "aud": []string{testAudience}, "jti": "jti-1", "kind": KindService,
		"iat": iat.Unix(), "nbf": iat.Unix(), "exp": iat.Add(ttl).Unix(), "scope": "users:read",
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v does not wrap ErrInvalid", err)
	}
}

// Shared fixtures (internal/tokentest).
var (
	testKey = tokentest.Key
	pub     = tokentest.Public
)
