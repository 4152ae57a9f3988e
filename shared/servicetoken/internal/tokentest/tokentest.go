// Package tokentest forges compact JWS tokens for the token packages' tests:
// any header, any claims, signed with Ed25519 whatever the header says, so a
// test can build tokens the Signer would never make (or sign as of a test
// clock's time).
//
//	tok := tokentest.SignRaw(key, tokentest.EdHeader(kid), claims)
package tokentest

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
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
