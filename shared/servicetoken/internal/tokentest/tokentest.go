// Package tokentest forges compact JWS tokens for the token packages' tests:
// any header, any claims, signed with Ed25519 whatever the header says, so a
// test can build tokens the Signer would never make (or sign as of a test
// clock's time). It also holds the fixtures every token package's tests
// share: issuers, kids, keys, and a clock.
//
//	tok := tokentest.SignRaw(key, tokentest.EdHeader(kid), claims)
package tokentest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"time"
)

// Seg is one base64url segment: a string or []byte as is, anything else as JSON.
func Seg(v any) string {
	var b []byte
	switch v := v.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			panic(err)
		}
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// SignRaw builds header.claims.signature with key.
func SignRaw(key ed25519.PrivateKey, header, claims any) string {
	input := Seg(header) + "." + Seg(claims)
	return input + "." + Seg(ed25519.Sign(key, []byte(input)))
}

// EdHeader is the header our Signer writes.
func EdHeader(kid string) map[string]any {
	return map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": kid}
}

// Fixtures the token packages' tests share: two issuers with a key each,
// the audience they sign for, and the clock they sign at.
const (
	Audience     = "shop-api"
	UsersIssuer  = "shop-users"
	OrdersIssuer = "shop-orders"
	UsersKID     = "shop-users-20260301T120000-aaaa"
	OrdersKID    = "shop-orders-20260301T120000-bbbb"
)

// T0 is the fixtures' clock.
var T0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Key derives a deterministic Ed25519 key from a label ("users", "orders"):
// the same label is the same key in every package's tests.
func Key(label string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(label))
	return ed25519.NewKeyFromSeed(seed[:])
}

// Public is k's public half.
func Public(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }
