package servicetoken

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

func TestVerifyServiceToken(t *testing.T) {
	f := newFixture()
	tok, issued := issue(t, f.signer(ordersIssuer, t0), KindService, "orders", []string{"users:read", "inventory:write"}, MaxServiceTTL)

	got, err := f.verifier(t0.Add(time.Minute)).Verify(context.Background(), tok, "users:read", "inventory:write")
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !reflect.DeepEqual(got, issued) {
		t.Fatalf("claims\n got %+v\nwant %+v", got, issued)
	}
	if got.Kind != KindService || got.Issuer != ordersIssuer || got.ID == "" || !got.Expiry.Equal(t0.Add(MaxServiceTTL)) {
		t.Fatalf("unexpected claims %+v", got)
	}
	if !got.HasScope("inventory:write") || got.HasScope("inventory") {
		t.Fatalf("HasScope wrong for %v", got.Scopes)
	}
}

func TestVerifyUserToken(t *testing.T) {
	f := newFixture()
	tok, _ := issue(t, f.signer(usersIssuer, t0), KindUser, "user-42", nil, MaxUserTTL)
	got, err := f.verifier(t0.Add(59*time.Minute)).Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.Kind != KindUser || got.Subject != "user-42" || len(got.Scopes) != 0 {
		t.Fatalf("unexpected claims %+v", got)
	}
}

func TestVerifyTokenHeader(t *testing.T) {
	f := newFixture()
	tok, _ := issue(t, f.signer(ordersIssuer, t0), KindService, "orders", nil, time.Minute)
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]string
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"alg": "EdDSA", "kid": ordersKID, "typ": "JWT"}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("header %v, want %v", h, want)
	}
}

func TestVerifyAcceptsSingleStringAudienceAndNoNbf(t *testing.T) {
	f := newFixture()
	claims := with(claimsAt(ordersIssuer, t0, time.Minute), "aud", testAudience, "nbf", nil)
	c, err := f.verifier(t0).Verify(context.Background(), signRaw(f.ordersKey, edHeader(ordersKID), claims))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !c.NotBefore.Equal(t0) || !reflect.DeepEqual(c.Audience, []string{testAudience}) {
		t.Fatalf("claims %+v", c)
	}
}

func TestVerifyLeeway(t *testing.T) {
	f := newFixture()
	tok, c := issue(t, f.signer(ordersIssuer, t0), KindService, "orders", nil, testServiceTTL)
	// A token minted by a signer whose clock runs ahead of the verifier's.
	early, _ := issue(t, f.signer(ordersIssuer, t0.Add(time.Hour)), KindService, "orders", nil, testServiceTTL)
	tests := []struct {
		name   string
		token  string
		at     time.Time
		opts   []Option
		reason error // nil: accepted
	}{
		{"default: 29s past exp", tok, c.Expiry.Add(29 * time.Second), nil, nil},
		{"default: 31s past exp", tok, c.Expiry.Add(31 * time.Second), nil, ErrExpired},
		{"default: iat 29s ahead", early, t0.Add(time.Hour - 29*time.Second), nil, nil},
		{"default: iat 31s ahead", early, t0.Add(time.Hour - 31*time.Second), nil, ErrNotYetValid},
		{"5s: 4s past exp", tok, c.Expiry.Add(4 * time.Second), []Option{WithLeeway(5 * time.Second)}, nil},
		{"5s: 6s past exp", tok, c.Expiry.Add(6 * time.Second), []Option{WithLeeway(5 * time.Second)}, ErrExpired},
		{"clamped to 30s: 31s past exp", tok, c.Expiry.Add(31 * time.Second), []Option{WithLeeway(time.Hour)}, ErrExpired},
		{"negative is zero: 1s before exp", tok, c.Expiry.Add(-time.Second), []Option{WithLeeway(-time.Minute)}, nil},
		{"negative is zero: at exp", tok, c.Expiry, []Option{WithLeeway(-time.Minute)}, ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.verifier(tt.at, tt.opts...).Verify(context.Background(), tt.token)
			if tt.reason == nil {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			wantErr(t, err, tt.reason)
		})
	}
}

// hmacToken is the classic key-confusion forgery: a verifier that lets the
// header pick the algorithm would check this HMAC with the public key
// bytes as the secret, and accept it.
func hmacToken(h func() hash.Hash, alg string, secret []byte, claims any) string {
	input := seg(map[string]any{"alg": alg, "typ": "JWT", "kid": ordersKID}) + "." + seg(claims)
	mac := hmac.New(h, secret)
	mac.Write([]byte(input))
	return input + "." + seg(mac.Sum(nil))
}

// jwxSigned signs claims with jwx, an independent JOSE library, as a JWT
// under alg with kid: real EdDSA tokens, and real RS/ES/PS ones.
func jwxSigned(t *testing.T, alg jwa.SignatureAlgorithm, key any, kid string, claims any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		t.Fatal(err)
	}
	out, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatalf("jws.Sign %s: %v", alg, err)
	}
	return string(out)
}

func TestVerifyRejects(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	valid := claimsAt(ordersIssuer, t0, testServiceTTL)
	good := signRaw(f.ordersKey, edHeader(ordersKID), valid)
	goodSegs := strings.Split(good, ".")
	otherPayload := seg(with(valid, "sub", "admin"))
	pubBytes := []byte(pub(f.ordersKey))
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// The last base64url character of a 64-byte signature carries 2 bits;
	// flipping an unused low bit spells the same bytes differently.
	last := goodSegs[2][len(goodSegs[2])-1]
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	respelled := goodSegs[0] + "." + goodSegs[1] + "." + goodSegs[2][:len(goodSegs[2])-1] + string(alphabet[strings.IndexByte(alphabet, last)^1])

	tests := []struct {
		name   string
		token  string
		opts   []Option
		scopes []string
		reason error
	}{
		{"too large", strings.Repeat("a", MaxTokenBytes+1), nil, nil, ErrTooLarge},
		{"too large even if valid", good + strings.Repeat("A", MaxTokenBytes), nil, nil, ErrTooLarge},
		{"empty", "", nil, nil, ErrMalformed},
		{"two segments", goodSegs[0] + "." + goodSegs[1], nil, nil, ErrMalformed},
		{"four segments", good + ".x", nil, nil, ErrMalformed},
		{"JWE-shaped", good + ".x.y", nil, nil, ErrMalformed},
		{"header not base64url", "!!!." + goodSegs[1] + "." + goodSegs[2], nil, nil, ErrMalformed},
		{"padded header", goodSegs[0] + "=." + goodSegs[1] + "." + goodSegs[2], nil, nil, ErrMalformed},
		{"standard base64 alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(good), nil, nil, ErrMalformed},
		{"header not JSON", seg("not json") + "." + goodSegs[1] + "." + goodSegs[2], nil, nil, ErrMalformed},
		{"header JSON array", seg(`["EdDSA"]`) + "." + goodSegs[1] + "." + goodSegs[2], nil, nil, ErrMalformed},
		{"empty payload", goodSegs[0] + ".." + goodSegs[2], nil, nil, ErrMalformed},
		{"signature respelled", respelled, nil, nil, ErrMalformed},
		{"CR in the payload", goodSegs[0] + "." + goodSegs[1][:10] + "\r" + goodSegs[1][10:] + "." + goodSegs[2], nil, nil, ErrMalformed},
		{"LF in the signature", goodSegs[0] + "." + goodSegs[1] + "." + goodSegs[2][:10] + "\n" + goodSegs[2][10:], nil, nil, ErrMalformed},
		{"space before the token", " " + good, nil, nil, ErrMalformed},
		{"crit header", signRaw(f.ordersKey, with(edHeader(ordersKID), "crit", []string{"exp"}, "exp", 1), valid), nil, nil, ErrMalformed},
		{"b64 header", signRaw(f.ordersKey, with(edHeader(ordersKID), "b64", false), valid), nil, nil, ErrMalformed},
		{"typ not JWT", signRaw(f.ordersKey, with(edHeader(ordersKID), "typ", "at+jwt"), valid), nil, nil, ErrMalformed},
		{"claims not JSON", signRaw(f.ordersKey, edHeader(ordersKID), "{"), nil, nil, ErrMalformed},
		{"claims JSON array", signRaw(f.ordersKey, edHeader(ordersKID), []string{"a"}), nil, nil, ErrMalformed},
		{"exp a string", signRaw(f.ordersKey, edHeader(ordersKID), with(valid, "exp", "2000000000")), nil, nil, ErrMalformed},
		{"exp absurd", signRaw(f.ordersKey, edHeader(ordersKID), with(valid, "exp", 1e300)), nil, nil, ErrMalformed},
		{"no exp", signRaw(f.ordersKey, edHeader(ordersKID), with(valid, "exp", nil)), nil, nil, ErrMalformed},
		{"no iat", signRaw(f.ordersKey, edHeader(ordersKID), with(valid, "iat", nil)), nil, nil, ErrMalformed},
		{"no jti", signRaw(f.ordersKey, edHeader(ordersKID), with(valid, "jti", nil)), nil, nil, ErrMalformed},
		{"no sub", signRaw(f.ordersKey, edHeader(ordersKID), with(valid, "sub", "")), nil, nil, ErrMalformed},
		{"no kind", signRaw(f.ordersKey, edHeader(ordersKID), with(valid, "kind", nil)), nil, nil, ErrMalformed},
		{"unknown kind", signRaw(f.ordersKey, edHeader(ordersKID), with(valid, "kind", "admin")), nil, nil, ErrMalformed},
		{"aud a number", signRaw(f.ordersKey, edHeader(ordersKID), with(valid, "aud", 7)), nil, nil, ErrMalformed},

		{"alg none, unsigned", seg(map[string]any{"alg": "none", "typ": "JWT", "kid": ordersKID}) + "." + seg(valid) + ".", nil, nil, ErrAlgorithm},
		{"alg none, Ed25519 signature", signRaw(f.ordersKey, with(edHeader(ordersKID), "alg", "none"), valid), nil, nil, ErrAlgorithm},
		{"HS256 keyed with the public key", hmacToken(sha256.New, "HS256", pubBytes, valid), nil, nil, ErrAlgorithm},
		{"HS384 keyed with the public key", hmacToken(sha512.New384, "HS384", pubBytes, valid), nil, nil, ErrAlgorithm},
		{"HS512 keyed with the JWK x", hmacToken(sha512.New, "HS512", []byte(base64.RawURLEncoding.EncodeToString(pubBytes)), valid), nil, nil, ErrAlgorithm},
		{"RS256", jwxSigned(t, jwa.RS256(), rsaKey, ordersKID, valid), nil, nil, ErrAlgorithm},
		{"PS256", jwxSigned(t, jwa.PS256(), rsaKey, ordersKID, valid), nil, nil, ErrAlgorithm},
		{"ES256", jwxSigned(t, jwa.ES256(), ecKey, ordersKID, valid), nil, nil, ErrAlgorithm},
		{"alg eddsa lower case", signRaw(f.ordersKey, with(edHeader(ordersKID), "alg", "eddsa"), valid), nil, nil, ErrAlgorithm},
		{"alg Ed25519 (RFC 9864 name)", signRaw(f.ordersKey, with(edHeader(ordersKID), "alg", "Ed25519"), valid), nil, nil, ErrAlgorithm},
		{"no alg", signRaw(f.ordersKey, with(edHeader(ordersKID), "alg", nil), valid), nil, nil, ErrAlgorithm},
		{"ALG upper-case key only", signRaw(f.ordersKey, with(edHeader(ordersKID), "alg", nil, "ALG", "EdDSA"), valid), nil, nil, ErrAlgorithm},

		{"no kid", signRaw(f.ordersKey, with(edHeader(ordersKID), "kid", nil), valid), nil, nil, ErrUnknownKey},
		{"unknown kid", signRaw(f.ordersKey, edHeader(strangerKID), valid), nil, nil, ErrUnknownKey},
		{"kid a number", signRaw(f.ordersKey, with(edHeader(ordersKID), "kid", 5), valid), nil, nil, ErrUnknownKey},
		{"embedded jwk is ignored", signRaw(testKey("attacker"), with(edHeader(strangerKID), "jwk", map[string]string{"kty": "OKP", "crv": "Ed25519", "x": seg([]byte(pub(testKey("attacker"))))}), valid), nil, nil, ErrUnknownKey},

		{"payload swapped", goodSegs[0] + "." + otherPayload + "." + goodSegs[2], nil, nil, ErrSignature},
		{"signed by another key", signRaw(testKey("attacker"), edHeader(ordersKID), valid), nil, nil, ErrSignature},
		{"signature truncated", goodSegs[0] + "." + goodSegs[1] + "." + seg(mustDecode(t, goodSegs[2])[:63]), nil, nil, ErrSignature},
		{"no signature", goodSegs[0] + "." + goodSegs[1] + ".", nil, nil, ErrSignature},
		{"HMAC under an EdDSA header", func() string {
			input := goodSegs[0] + "." + goodSegs[1]
			mac := hmac.New(sha256.New, pubBytes)
			mac.Write([]byte(input))
			return input + "." + seg(mac.Sum(nil))
		}(), nil, nil, ErrSignature},

		{"key of orders claims users", signRaw(f.ordersKey, edHeader(ordersKID), with(valid, "iss", usersIssuer)), nil, nil, ErrIssuer},
		{"user token, no user issuer configured", signRaw(f.usersKey, edHeader(usersKID), with(claimsAt(usersIssuer, t0, time.Minute), "kind", KindUser)), []Option{WithUserIssuer("")}, nil, ErrIssuer},
		{"user token from a service issuer", signRaw(f.ordersKey, edHeader(ordersKID), with(valid, "kind", KindUser)), nil, nil, ErrIssuer},

		{"other audience", signRaw(f.ordersKey, edHeader(ordersKID), with(valid, "aud", []string{"shop-admin"})), nil, nil, ErrAudience},
		{"audience a prefix", signRaw(f.ordersKey, edHeader(ordersKID), with(valid, "aud", "shop-api-internal")), nil, nil, ErrAudience},

		{"expired", signRaw(f.ordersKey, edHeader(ordersKID), claimsAt(ordersIssuer, t0.Add(-testServiceTTL-time.Minute), testServiceTTL)), nil, nil, ErrExpired},
		{"nbf in the future", signRaw(f.ordersKey, edHeader(ordersKID), with(valid, "nbf", t0.Add(time.Minute).Unix())), nil, nil, ErrNotYetValid},
		{"iat in the future", signRaw(f.ordersKey, edHeader(ordersKID), claimsAt(ordersIssuer, t0.Add(time.Minute), testServiceTTL)), nil, nil, ErrNotYetValid},

		{"service token living 6m", signRaw(f.ordersKey, edHeader(ordersKID), claimsAt(ordersIssuer, t0, 6*time.Minute)), nil, nil, ErrLifetime},
		{"user token living 2h", signRaw(f.usersKey, edHeader(usersKID), with(claimsAt(usersIssuer, t0, 2*time.Hour), "kind", KindUser, "scope", nil)), nil, nil, ErrLifetime},
		{"exp equals iat", signRaw(f.ordersKey, edHeader(ordersKID), with(valid, "exp", t0.Add(time.Second).Unix(), "iat", t0.Add(time.Second).Unix())), nil, nil, ErrLifetime},

		// What each issuer may mint (Policy): the fault of a key that could
		// mint anything, and every way around its fix.
		{"users key mints a service token as orders", signRaw(f.usersKey, edHeader(usersKID), with(valid, "iss", usersIssuer)), nil, nil, ErrPolicy},
		{"users key mints a service token as itself", signRaw(f.usersKey, edHeader(usersKID), with(valid, "iss", usersIssuer, "sub", "users", "scope", nil)), nil, nil, ErrPolicy},
		{"orders key speaks for another service", signRaw(f.ordersKey, edHeader(ordersKID), with(valid, "sub", "payments")), nil, nil, ErrPolicy},
		{"orders key speaks for the operator", signRaw(f.ordersKey, edHeader(ordersKID), with(valid, "sub", "operator")), nil, nil, ErrPolicy},
		{"orders key grants a scope outside its policy", signRaw(f.ordersKey, edHeader(ordersKID), with(valid, "scope", "orders:admin")), nil, nil, ErrPolicy},
		{"one granted scope of two outside the policy", signRaw(f.ordersKey, edHeader(ordersKID), with(valid, "scope", "users:read payments:refund")), nil, []string{"users:read"}, ErrPolicy},
		{"scope a prefix of an allowed one", signRaw(f.ordersKey, edHeader(ordersKID), with(valid, "scope", "users")), nil, nil, ErrPolicy},
		{"user token with a scope", signRaw(f.usersKey, edHeader(usersKID), with(claimsAt(usersIssuer, t0, time.Minute), "kind", KindUser, "sub", "user-1", "scope", "inventory:write")), nil, nil, ErrPolicy},
		{"operator key mints a user token", signRaw(f.operatorKey, edHeader(operatorKID), with(claimsAt(operatorIssuer, t0, time.Minute), "kind", KindUser, "sub", "user-1", "scope", nil)), []Option{WithUserIssuer(operatorIssuer)}, nil, ErrPolicy},
		{"operator key as another subject", signRaw(f.operatorKey, edHeader(operatorKID), with(claimsAt(operatorIssuer, t0, time.Minute), "sub", "caller")), nil, nil, ErrPolicy},
		{"key without a policy: service token", signRaw(f.legacyKey, edHeader(legacyKID), with(claimsAt(legacyIssuer, t0, time.Minute), "sub", "legacy", "scope", nil)), nil, nil, ErrPolicy},
		{"key without a policy: user token", signRaw(f.legacyKey, edHeader(legacyKID), with(claimsAt(legacyIssuer, t0, time.Minute), "kind", KindUser, "scope", nil)), []Option{WithUserIssuer(legacyIssuer)}, nil, ErrPolicy},

		{"missing scope", good, nil, []string{"users:read", "users:write"}, ErrScope},
		{"scope is not a prefix match", good, nil, []string{"users"}, ErrScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.verifier(t0, tt.opts...).Verify(ctx, tt.token, tt.scopes...)
			wantErr(t, err, tt.reason)
		})
	}
	// The baseline the forgeries were derived from is itself fine.
	if _, err := f.verifier(t0).Verify(ctx, good, "users:read"); err != nil {
		t.Fatalf("baseline token rejected: %v", err)
	}
}

// Each issuer mints what its policy allows, and the operator any scope.
func TestVerifyWithinPolicy(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	tests := []struct {
		name   string
		token  string
		scopes []string
	}{
		{"orders, both of its scopes", signRaw(f.ordersKey, edHeader(ordersKID), with(claimsAt(ordersIssuer, t0, time.Minute), "scope", "inventory:write users:read")), []string{"users:read", "inventory:write"}},
		{"orders, no scope", signRaw(f.ordersKey, edHeader(ordersKID), with(claimsAt(ordersIssuer, t0, time.Minute), "scope", nil)), nil},
		{"operator, any scope", signRaw(f.operatorKey, edHeader(operatorKID), with(claimsAt(operatorIssuer, t0, time.Minute), "sub", "operator", "scope", "payments:refund orders:admin")), []string{"orders:admin"}},
		{"users, a user token for any user id", signRaw(f.usersKey, edHeader(usersKID), with(claimsAt(usersIssuer, t0, time.Minute), "kind", KindUser, "sub", "9f8e7d", "scope", nil)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.verifier(t0).Verify(ctx, tt.token, tt.scopes...); err != nil {
				t.Fatalf("rejected: %v", err)
			}
		})
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifierWithoutAudienceRejectsEverything(t *testing.T) {
	f := newFixture()
	tok, _ := issue(t, f.signer(ordersIssuer, t0), KindService, "orders", nil, time.Minute)
	v := NewVerifier(StaticKeySource(f.keys), "", WithClock(func() time.Time { return t0 }))
	_, err := v.Verify(context.Background(), tok)
	wantErr(t, err, ErrAudience)
}

type failingKeys struct{ err error }

func (f failingKeys) PublicKeys(context.Context) (KeySet, error) { return nil, f.err }

func TestVerifyKeySourceFailureIsNotAVerdict(t *testing.T) {
	f := newFixture()
	tok, _ := issue(t, f.signer(ordersIssuer, t0), KindService, "orders", nil, time.Minute)
	boom := errors.New("ssm down")
	_, err := NewVerifier(failingKeys{boom}, testAudience).Verify(context.Background(), tok)
	if !errors.Is(err, boom) || errors.Is(err, ErrInvalid) {
		t.Fatalf("error = %v, want the key source error and not ErrInvalid", err)
	}
	// Garbage is still refused as garbage, without asking for keys.
	_, err = NewVerifier(failingKeys{boom}, testAudience).Verify(context.Background(), "x.y.z")
	wantErr(t, err, ErrMalformed)
}

func TestIssueRefuses(t *testing.T) {
	f := newFixture()
	s := f.signer(ordersIssuer, t0)
	aud := []string{testAudience}
	tests := []struct {
		name    string
		kind    string
		sub     string
		aud     []string
		scopes  []string
		ttl     time.Duration
		wantErr string
	}{
		{"service ttl over 5m", KindService, "orders", aud, nil, MaxServiceTTL + time.Second, "exceeds"},
		{"user ttl over 1h", KindUser, "u1", aud, nil, MaxUserTTL + time.Second, "exceeds"},
		{"ttl under a second", KindService, "orders", aud, nil, 500 * time.Millisecond, "under a second"},
		{"zero ttl", KindService, "orders", aud, nil, 0, "under a second"},
		{"unknown kind", "admin", "orders", aud, nil, time.Minute, "kind"},
		{"empty subject", KindService, "", aud, nil, time.Minute, "subject"},
		{"no audience", KindService, "orders", nil, nil, time.Minute, "audience"},
		{"empty audience", KindService, "orders", []string{""}, nil, time.Minute, "audience"},
		{"scope with a space", KindService, "orders", aud, []string{"a b"}, time.Minute, "scope"},
		{"empty scope", KindService, "orders", aud, []string{""}, time.Minute, "scope"},
		{"the any-scope wildcard as a scope", KindService, "orders", aud, []string{"*"}, time.Minute, "scope"},
		{"user token with a scope", KindUser, "u1", aud, []string{"inventory:write"}, time.Minute, "no scopes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, _, err := s.Issue(tt.kind, tt.sub, tt.aud, tt.scopes, tt.ttl)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || tok != "" {
				t.Fatalf("Issue = %q, %v; want an error about %q", tok, err, tt.wantErr)
			}
		})
	}
	if _, _, err := NewSigner(ordersIssuer, ordersKID, nil).Issue(KindService, "orders", aud, nil, time.Minute); err == nil {
		t.Fatal("Issue with no key succeeded")
	}
	// The maxima themselves are allowed.
	if _, _, err := s.Issue(KindUser, "u1", aud, nil, MaxUserTTL); err != nil {
		t.Fatalf("Issue at MaxUserTTL: %v", err)
	}
}

func TestIssueMakesUniqueIDs(t *testing.T) {
	s := newFixture().signer(ordersIssuer, t0)
	seen := map[string]bool{}
	for range 100 {
		_, c, err := s.Issue(KindService, "orders", []string{testAudience}, nil, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if seen[c.ID] {
			t.Fatalf("jti %s issued twice", c.ID)
		}
		seen[c.ID] = true
	}
}

func BenchmarkVerify(b *testing.B) {
	f := newFixture()
	tok, _, err := f.signer(ordersIssuer, t0).Issue(KindService, "orders", []string{testAudience}, []string{"users:read"}, MaxServiceTTL)
	if err != nil {
		b.Fatal(err)
	}
	v := f.verifier(t0.Add(time.Minute))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok, "users:read"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIssue(b *testing.B) {
	s := newFixture().signer(ordersIssuer, t0)
	aud := []string{testAudience}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Issue(KindService, "orders", aud, []string{"users:read"}, MaxServiceTTL); err != nil {
			b.Fatal(err)
		}
	}
}

// Tokens are standard compact JWS (RFC 7515, EdDSA per RFC 8037) both ways:
// an independent JOSE library verifies what Issue signs and reads the claims
// we mean, and Verify accepts what that library signs.
func TestInteropWithJWX(t *testing.T) {
	f := newFixture()
	tok, c := issue(t, f.signer(ordersIssuer, t0), KindService, "orders", []string{"users:read"}, testServiceTTL)

	payload, err := jws.Verify([]byte(tok), jws.WithKey(jwa.EdDSA(), pub(f.ordersKey)))
	if err != nil {
		t.Fatalf("jwx does not verify our token: %v", err)
	}
	parsed, err := jwt.Parse([]byte(tok), jwt.WithKey(jwa.EdDSA(), pub(f.ordersKey)), jwt.WithValidate(false))
	if err != nil {
		t.Fatalf("jwx cannot parse our claims %s: %v", payload, err)
	}
	iss, _ := parsed.Issuer()
	sub, _ := parsed.Subject()
	aud, _ := parsed.Audience()
	exp, _ := parsed.Expiration()
	var kind, scope string
	if iss != c.Issuer || sub != c.Subject || !slices.Equal(aud, c.Audience) || !exp.Equal(c.Expiry) ||
		parsed.Get("kind", &kind) != nil || kind != KindService || parsed.Get("scope", &scope) != nil || scope != "users:read" {
		t.Fatalf("jwx reads %s as iss=%q sub=%q aud=%v exp=%v kind=%q scope=%q; want %+v", payload, iss, sub, aud, exp, kind, scope, c)
	}
	msgs, err := jws.Parse([]byte(tok))
	if err != nil {
		t.Fatal(err)
	}
	if h := msgs.Signatures()[0].ProtectedHeaders(); h == nil {
		t.Fatal("no protected header")
	} else if kid, _ := h.KeyID(); kid != ordersKID {
		t.Fatalf("kid %q, want %s", kid, ordersKID)
	}

	byJWX := jwxSigned(t, jwa.EdDSA(), f.ordersKey, ordersKID, claimsAt(ordersIssuer, t0, time.Minute))
	got, err := f.verifier(t0.Add(time.Second)).Verify(context.Background(), byJWX)
	if err != nil || got.Subject != "orders" || !got.HasScope("users:read") {
		t.Fatalf("Verify of a jwx-signed token = %+v, %v", got, err)
	}
}
