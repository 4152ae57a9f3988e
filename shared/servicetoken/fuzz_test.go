package servicetoken

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzVerify: no input panics, every rejection wraps ErrInvalid, and
// nothing verifies but the exact tokens the seeds were signed as (the
// fuzzer holds no private key, so any other success is a forgery).
func FuzzVerify(f *testing.F) {
	fx := newFixture()
	// Deterministic seeds (Ed25519 signatures are), because every fuzz
	// worker process runs this setup again and must agree on them.
	valid := claimsAt(ordersIssuer, t0, time.Minute)
	svc := signRaw(fx.ordersKey, edHeader(ordersKID), valid)
	user := signRaw(fx.usersKey, edHeader(usersKID), with(claimsAt(usersIssuer, t0, MaxUserTTL), "kind", KindUser, "sub", "user-1", "scope", nil))
	genuine := map[string]bool{svc: true, user: true}
	mac := hmac.New(sha256.New, pub(fx.ordersKey))
	hsInput := seg(map[string]any{"alg": "HS256", "kid": ordersKID}) + "." + seg(valid)
	mac.Write([]byte(hsInput))
	for _, seed := range []string{
		svc, user,
		// Genuine signatures on what the key's policy forbids: a service
		// token from the users key, a user token with a scope, a token of a
		// key with no policy. Any of these verifying is the fault of
		// issue 6 back.
		signRaw(fx.usersKey, edHeader(usersKID), with(valid, "iss", usersIssuer)),
		signRaw(fx.usersKey, edHeader(usersKID), with(claimsAt(usersIssuer, t0, time.Minute), "kind", KindUser, "sub", "user-1")),
		signRaw(fx.ordersKey, edHeader(ordersKID), with(valid, "scope", "orders:admin")),
		signRaw(fx.legacyKey, edHeader(legacyKID), with(claimsAt(legacyIssuer, t0, time.Minute), "sub", "legacy", "scope", nil)),
		hsInput + "." + seg(mac.Sum(nil)),
		seg(map[string]any{"alg": "none", "kid": ordersKID}) + "." + seg(valid) + ".",
		signRaw(testKey("attacker"), edHeader(ordersKID), valid),
		strings.Replace(svc, ".", "..", 1),
		"", ".", "..", "...", "a.b.c", "eyJ9.eyJ9.",
	} {
		f.Add(seed)
	}
	v := fx.verifier(t0.Add(30 * time.Second))
	for token := range genuine {
		if _, err := v.Verify(context.Background(), token); err != nil {
			f.Fatalf("seed does not verify: %v", err)
		}
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(context.Background(), token)
		if err == nil {
			if !genuine[token] {
				t.Fatalf("forged token verified: %q -> %+v", token, c)
			}
			return
		}
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("rejection %v does not wrap ErrInvalid", err)
		}
	})
}

// FuzzParseJWKS: arbitrary parameter values never panic, and every key
// accepted is bound to an issuer and has a valid policy or none.
func FuzzParseJWKS(f *testing.F) {
	doc := &JWKSDocument{}
	for _, k := range []struct {
		iss, kid string
		p        Policy
	}{{ordersIssuer, ordersKID, ordersPolicy}, {usersIssuer, usersKID, usersPolicy}, {operatorIssuer, operatorKID, operatorPolicy}} {
		if _, err := doc.Upsert(k.iss, k.kid, pub(testKey(k.kid)), k.p); err != nil {
			f.Fatal(err)
		}
	}
	good, err := doc.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	x := seg([]byte(pub(testKey("orders"))))
	entry := func(policy string) []byte {
		return []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"k1","iss":"shop-orders"` + policy + `}]}`)
	}
	f.Add(entry(""))
	f.Add(entry(`,"kinds":["service"],"sub":"orders","scopes":["*","users:read"]`))
	f.Add(entry(`,"kinds":["user"],"scopes":["users:read"]`))
	f.Add(entry(`,"kinds":"service","sub":7`))
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := ParseJWKS(data)
		if err != nil {
			return
		}
		for kid, k := range set {
			if kid == "" || k.Issuer == "" || len(k.Key) != 32 {
				t.Fatalf("accepted key %q -> %+v", kid, k)
			}
			if !k.Policy.IsZero() {
				if err := k.Policy.Validate(); err != nil {
					t.Fatalf("accepted key %q with an invalid policy %+v: %v", kid, k.Policy, err)
				}
			}
		}
	})
}
