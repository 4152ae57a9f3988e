package servicetoken

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzSignedClaims reaches what FuzzVerify cannot: the header and claims
// checks behind the signature. The fuzzer picks the header and payload
// bytes and which fixture key signs them (it holds the test keys), so every
// input carries a genuine signature. Every rejection wraps ErrInvalid; and
// whatever verifies was signed by the key its kid names and asserts only
// what that key's issuer and policy allow, for our audience, now.
func FuzzSignedClaims(f *testing.F) {
	fx := newFixture()
	keys := []struct {
		kid  string
		sign func(header, payload []byte) string
	}{}
	for _, k := range []struct {
		kid string
		key []byte
	}{{usersKID, fx.usersKey}, {ordersKID, fx.ordersKey}, {operatorKID, fx.operatorKey}, {legacyKID, fx.legacyKey}} {
		key := k.key
		keys = append(keys, struct {
			kid  string
			sign func(header, payload []byte) string
		}{k.kid, func(header, payload []byte) string { return signRaw(key, header, payload) }})
	}
	js := func(v any) []byte { b, _ := json.Marshal(v); return b }
	now := t0.Add(30 * time.Second)
	svc := claimsAt(ordersIssuer, t0, time.Minute)
	user := with(claimsAt(usersIssuer, t0, MaxUserTTL), "kind", KindUser, "sub", "user-1", "scope", nil)
	f.Add(js(edHeader(ordersKID)), js(svc), uint8(1))
	f.Add(js(edHeader(usersKID)), js(user), uint8(0))
	f.Add(js(edHeader(operatorKID)), js(with(svc, "iss", operatorIssuer, "sub", "operator", "scope", "anything:at-all")), uint8(2))
	f.Add(js(edHeader(ordersKID)), js(with(svc, "aud", testAudience, "exp", 1.5e9, "iat", 1.4e9)), uint8(1))
	f.Add(js(edHeader(ordersKID)), js(with(svc, "scope", "orders:admin")), uint8(1))
	f.Add(js(edHeader(usersKID)), js(with(user, "scope", "orders:read")), uint8(0))
	f.Add(js(edHeader(legacyKID)), js(with(svc, "iss", legacyIssuer)), uint8(3))
	f.Add(js(edHeader(ordersKID)), js(svc), uint8(0)) // signed by the wrong key
	f.Add([]byte(`{"alg":"EdDSA","kid":"`+ordersKID+`","crit":["exp"]}`), js(svc), uint8(1))
	f.Add([]byte(`{"ALG":"EdDSA","alg":"none","kid":"`+ordersKID+`"}`), js(svc), uint8(1))
	f.Add([]byte(`{"alg":"EdDSA","kid":7}`), []byte(`{"exp":"1","iat":null,"aud":[1]}`), uint8(1))
	f.Add([]byte(`{"alg":"EdDSA","typ":"jwt","kid":"`+ordersKID+`"}`), []byte(`{"iss":"shop-orders","exp":1e400,"nbf":-0}`), uint8(1))
	v := fx.verifier(now)
	f.Fuzz(func(t *testing.T, header, payload []byte, signer uint8) {
		k := keys[int(signer)%len(keys)]
		token := k.sign(header, payload)
		c, err := v.Verify(context.Background(), token)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("rejection %v does not wrap ErrInvalid", err)
			}
			return
		}
		kid, herr := checkHeader(header)
		if herr != nil || kid != k.kid {
			t.Fatalf("verified a token whose header names %q (%v), signed by %s's key", kid, herr, k.kid)
		}
		key := fx.keys[kid]
		if c.Issuer != key.Issuer {
			t.Fatalf("iss %q from the key of %q", c.Issuer, key.Issuer)
		}
		if err := key.Policy.permits(c); err != nil || key.Policy.IsZero() {
			t.Fatalf("verified what the policy forbids: %+v: %v", c, err)
		}
		if c.Kind == KindUser && (c.Issuer != usersIssuer || len(c.Scopes) > 0) {
			t.Fatalf("user token from %q with scopes %q", c.Issuer, c.Scopes)
		}
		if c.Subject == "" || c.ID == "" || !slices.Contains(c.Audience, testAudience) {
			t.Fatalf("verified claims missing sub, jti or our audience: %+v", c)
		}
		if !now.Before(c.Expiry.Add(DefaultLeeway)) || c.NotBefore.After(now.Add(DefaultLeeway)) || c.IssuedAt.After(now.Add(DefaultLeeway)) {
			t.Fatalf("verified outside its lifetime at %s: %+v", now, c)
		}
		if life := c.Expiry.Sub(c.IssuedAt); life <= 0 || life > maxTTL(c.Kind) {
			t.Fatalf("verified a %s token living %v", c.Kind, life)
		}
	})
}

// FuzzDecodeClaims: the claims decoder alone. Accepted claims have every
// claim Verify needs, a known kind, dates in 1970..9999, and scopes as
// separate words; re-encoded as Issue writes them (whole seconds) they
// decode to the same claims.
func FuzzDecodeClaims(f *testing.F) {
	js := func(v any) []byte { b, _ := json.Marshal(v); return b }
	svc := claimsAt(ordersIssuer, t0, time.Minute)
	f.Add(js(svc))
	f.Add(js(with(svc, "aud", testAudience, "nbf", nil, "scope", " a  b\tc ")))
	f.Add(js(with(svc, "exp", 1.5e9, "iat", 253402300799.9)))
	f.Add(js(with(svc, "exp", "1700000000")))
	f.Add(js(with(svc, "kind", "admin")))
	f.Add([]byte(`{"iss":"a","sub":"b","jti":"c","kind":"user","aud":["x"],"exp":-1,"iat":0}`))
	f.Add([]byte(`{"exp":1e400}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		c, err := decodeClaims(payload)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("rejection %v is not ErrMalformed", err)
			}
			return
		}
		if c.Issuer == "" || c.Subject == "" || c.ID == "" || len(c.Audience) == 0 || maxTTL(c.Kind) == 0 {
			t.Fatalf("accepted incomplete claims %+v", c)
		}
		lo, hi := time.Unix(0, 0), time.Unix(maxNumericDate+1, 0)
		for _, d := range []time.Time{c.IssuedAt, c.NotBefore, c.Expiry} {
			if d.Before(lo) || !d.Before(hi) {
				t.Fatalf("date %s out of range in %+v", d, c)
			}
		}
		for _, s := range c.Scopes {
			if s == "" || strings.ContainsAny(s, " \t\r\n") {
				t.Fatalf("scope %q", s)
			}
		}
		w := wireClaims{Iss: c.Issuer, Sub: c.Subject, Aud: c.Audience, Iat: dateOf(c.IssuedAt), Nbf: dateOf(c.NotBefore),
			Exp: dateOf(c.Expiry), Jti: c.ID, Kind: c.Kind, Scope: strings.Join(c.Scopes, " ")}
		b, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeClaims(b)
		if err != nil {
			t.Fatalf("re-encoded claims %s rejected: %v", b, err)
		}
		trunc := func(c Claims) Claims {
			c.IssuedAt, c.NotBefore, c.Expiry = c.IssuedAt.Truncate(time.Second), c.NotBefore.Truncate(time.Second), c.Expiry.Truncate(time.Second)
			if len(c.Scopes) == 0 {
				c.Scopes = nil
			}
			return c
		}
		if a, b := trunc(c), trunc(again); !a.IssuedAt.Equal(b.IssuedAt) || !a.NotBefore.Equal(b.NotBefore) || !a.Expiry.Equal(b.Expiry) ||
			a.Issuer != b.Issuer || a.Subject != b.Subject || a.ID != b.ID || a.Kind != b.Kind ||
			!slices.Equal(a.Audience, b.Audience) || !slices.Equal(a.Scopes, b.Scopes) {
			t.Fatalf("round trip changed the claims: %+v -> %+v", a, b)
		}
	})
}

// FuzzPolicy: a policy that validates permits only what it says. The
// fuzzer builds the policy and the claims; permits must agree with a
// direct reading of the Policy's documentation.
func FuzzPolicy(f *testing.F) {
	f.Add("service", "orders", "users:read inventory:write", false, "service", "orders", "users:read")
	f.Add("service", "operator", "", true, "service", "operator", "anything")
	f.Add("user", "", "", false, "user", "user-1", "")
	f.Add("user", "", "", false, "user", "user-1", "orders:read")
	f.Add("user service", "login", "x", false, "service", "login", "y")
	f.Add("service service", "a b", "* x", true, "admin", "", "")
	f.Fuzz(func(t *testing.T, kinds, subject, scopes string, anyScope bool, kind, sub, scope string) {
		p := Policy{Kinds: strings.Fields(kinds), Subject: subject, Scopes: strings.Fields(scopes), AnyScope: anyScope}
		if p.Validate() != nil {
			return
		}
		c := Claims{Issuer: "iss", Kind: kind, Subject: sub, Scopes: strings.Fields(scope)}
		err := p.permits(c)
		want := slices.Contains(p.Kinds, kind) && (kind == KindUser && len(c.Scopes) == 0 ||
			kind == KindService && sub == p.Subject && (p.AnyScope || !slices.ContainsFunc(c.Scopes, func(s string) bool { return !slices.Contains(p.Scopes, s) })))
		if kind == KindUser && len(c.Scopes) > 0 {
			want = false
		}
		if (err == nil) != want {
			t.Fatalf("policy %+v, claims %+v: permits says %v, want allowed=%v", p, c, err, want)
		}
		if err != nil && (!errors.Is(err, ErrPolicy) || !errors.Is(err, ErrInvalid)) {
			t.Fatalf("refusal %v is not ErrPolicy", err)
		}
	})
}
