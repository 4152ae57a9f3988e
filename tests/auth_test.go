package tests

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/shop-serverless/shop/functions/users"
	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/servicetoken/keystore"
	"github.com/shop-serverless/shop/shared/testenv"
)

func prefix() string {
	if p := os.Getenv("SHOP_PREFIX"); p != "" {
		return p
	}
	return "shop"
}

func secrets(t *testing.T) *secretsmanager.Client {
	t.Helper()
	testenv.RequireEmulator(t)
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return secretsmanager.NewFromConfig(cfg)
}

// operatorToken is what `make token SCOPES=...` prints: a service token of
// the operator issuer.
func operatorToken(t *testing.T, scopes ...string) string {
	t.Helper()
	signer, err := keystore.LoadSigner(context.Background(), secrets(t), prefix(), "operator")
	if err != nil {
		t.Fatalf("operator signer: %v", err)
	}
	tok, _, err := signer.Issue(servicetoken.KindService, "operator", []string{naming.Audience(prefix())}, scopes, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	used.add("service token", tok)
	return tok
}

// operatorKey reads the operator's active private key, to forge tokens the
// library itself would refuse to make (expired, wrong audience).
func operatorKey(t *testing.T) (kid string, key ed25519.PrivateKey) {
	t.Helper()
	return activeKey(t, "operator")
}

// activeKey reads the active private key of service's issuer.
func activeKey(t *testing.T, service string) (kid string, key ed25519.PrivateKey) {
	t.Helper()
	out, err := secrets(t).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(naming.SigningSecret(prefix(), service))})
	if err != nil {
		t.Fatal(err)
	}
	var ring struct {
		Active string `json:"active"`
		Keys   []struct {
			KID  string `json:"kid"`
			Seed []byte `json:"seed"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &ring); err != nil {
		t.Fatal(err)
	}
	for _, k := range ring.Keys {
		if k.KID == ring.Active {
			return k.KID, ed25519.NewKeyFromSeed(k.Seed)
		}
	}
	t.Fatalf("no active key of %s", service)
	return "", nil
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func claims(iat, exp time.Time, aud string) map[string]any {
	return map[string]any{
		"iss": naming.Issuer(prefix(), "operator"), "sub": "operator", "aud": aud, "kind": "service",
		"scope": "inventory:write", "iat": iat.Unix(), "nbf": iat.Unix(), "exp": exp.Unix(), "jti": "e2e-" + iat.String(),
	}
}

func signEd(key ed25519.PrivateKey, header, payload map[string]any) string {
	input := b64(header) + "." + b64(payload)
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, []byte(input)))
}

func login(t *testing.T, email, password string) (string, response) {
	t.Helper()
	r := call(t, "POST", "/v1/auth/login", map[string]string{"email": email, "password": password})
	var body struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expiresAt"`
	}
	if r.Status == http.StatusOK {
		r.json(t, &body)
		if body.Token == "" || time.Until(body.ExpiresAt) > time.Hour+time.Minute || time.Until(body.ExpiresAt) < 50*time.Minute {
			t.Fatalf("login answer %s", r.Body)
		}
	}
	return body.Token, r
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func TestLoginAndOwnership(t *testing.T) {
	t.Parallel()
	email := uniqueEmail(t)
	u, r := register(t, email)
	expect(t, r, http.StatusCreated)
	other, r := register(t, uniqueEmail(t))
	expect(t, r, http.StatusCreated)

	tok, r := login(t, strings.ToUpper(email), "correct horse 1")
	expect(t, r, http.StatusOK)

	t.Run("own profile", func(t *testing.T) {
		expect(t, call(t, "GET", "/v1/users/"+u.ID, nil, bearer(tok)...), http.StatusOK)
		expect(t, call(t, "PATCH", "/v1/users/"+u.ID, map[string]any{"name": "Mine"}, append(bearer(tok), "If-Match", `"1"`)...), http.StatusOK)
	})
	t.Run("someone else's profile is 403", func(t *testing.T) {
		expect(t, call(t, "GET", "/v1/users/"+other.ID, nil, bearer(tok)...), http.StatusForbidden)
		expect(t, call(t, "PATCH", "/v1/users/"+other.ID, map[string]any{"name": "Yours"}, append(bearer(tok), "If-Match", `"1"`)...), http.StatusForbidden)
	})
	t.Run("a service with users:read reads any user", func(t *testing.T) {
		expect(t, call(t, "GET", "/v1/users/"+other.ID, nil, bearer(operatorToken(t, "users:read"))...), http.StatusOK)
		expect(t, call(t, "GET", "/v1/users/"+other.ID, nil, bearer(operatorToken(t, "inventory:write"))...), http.StatusForbidden)
	})
	t.Run("no token is 401", func(t *testing.T) {
		r := call(t, "GET", "/v1/users/"+u.ID, nil)
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401: %s", r.Status, r.Body)
		}
	})
}

// A successful login forgets the failures before it: without that, the
// second round would run past the account's free failures into its delay
// (and this test would meet a 429).
func TestSuccessfulLoginClearsFailures(t *testing.T) {
	t.Parallel()
	email := uniqueEmail(t)
	_, r := register(t, email)
	expect(t, r, http.StatusCreated)
	for round := 1; round <= 2; round++ {
		for i := 1; i <= users.FreeLoginFailures-1; i++ {
			_, r := login(t, email, "not the password")
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("round %d, failure %d: status %d, want 401; body %s", round, i, r.Status, r.Body)
			}
		}
		_, r := login(t, email, "correct horse 1")
		expect(t, r, http.StatusOK)
	}
}

func TestProtectedRoutesRefuseBadTokens(t *testing.T) {
	t.Parallel()
	kid, key := operatorKey(t)
	now := time.Now()
	aud := naming.Audience(prefix())
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	hs := func() string {
		pub := key.Public().(ed25519.PublicKey)
		input := b64(map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}) + "." + b64(claims(now, now.Add(time.Minute), aud))
		m := hmac.New(sha256.New, pub)
		m.Write([]byte(input))
		return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	body := map[string]any{"sku": uniqueSKU("AUTH"), "name": "x", "price": map[string]any{"amount": 1, "currency": "EUR"}, "stock": 1}
	tokens := map[string]string{
		"garbage":             "garbage",
		"alg none":            b64(map[string]any{"alg": "none", "typ": "JWT", "kid": kid}) + "." + b64(claims(now, now.Add(time.Minute), aud)) + ".",
		"HS256 key confusion": hs(),
		"forged signature":    signEd(stranger, map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": kid}, claims(now, now.Add(time.Minute), aud)),
		"expired":             signEd(key, map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": kid}, claims(now.Add(-10*time.Minute), now.Add(-6*time.Minute), aud)),
		"wrong audience":      signEd(key, map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": kid}, claims(now, now.Add(time.Minute), "someone-else")),
	}
	// Genuine signatures of login's key on what its issuer may not mint
	// (issue 6): the policy published with the key is what refuses them.
	usersKID, usersKey := activeKey(t, "users")
	usersHeader := map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": usersKID}
	asUsers := func(kv ...any) map[string]any {
		c := claims(now, now.Add(time.Minute), aud)
		c["iss"] = naming.Issuer(prefix(), "users")
		for i := 0; i+1 < len(kv); i += 2 {
			c[kv[i].(string)] = kv[i+1]
		}
		return c
	}
	tokens["service token from login's key"] = signEd(usersKey, usersHeader, asUsers("sub", "orders"))
	tokens["user token with a scope from login's key"] = signEd(usersKey, usersHeader, asUsers("kind", "user", "sub", "user-1"))
	for name, tok := range tokens {
		t.Run(name, func(t *testing.T) {
			r := call(t, "POST", "/v1/products", body, bearer(tok)...)
			if onKnative() {
				// Nothing stands in front of the function: it refuses the
				// token itself (README, Who checks what).
				expect(t, r, http.StatusUnauthorized)
				if h := r.Header.Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_token"`) {
					t.Fatalf("WWW-Authenticate %q, want error=\"invalid_token\"", h)
				}
				return
			}
			// An HTTP API answers 403 when a Lambda authorizer denies.
			if r.Status != http.StatusForbidden {
				t.Fatalf("status %d, want 403: %s", r.Status, r.Body)
			}
		})
	}
	t.Run("control: the same claims, properly signed, pass", func(t *testing.T) {
		tok := signEd(key, map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": kid}, claims(now, now.Add(time.Minute), aud))
		expect(t, call(t, "POST", "/v1/products", body, bearer(tok)...), http.StatusCreated)
	})
	t.Run("no token is 401", func(t *testing.T) {
		if r := call(t, "POST", "/v1/products", body); r.Status != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", r.Status)
		}
	})
	t.Run("a user token lacks the scope: 403 problem", func(t *testing.T) {
		email := uniqueEmail(t)
		_, r := register(t, email)
		expect(t, r, http.StatusCreated)
		tok, r := login(t, email, "correct horse 1")
		expect(t, r, http.StatusOK)
		expect(t, call(t, "POST", "/v1/products", body, bearer(tok)...), http.StatusForbidden)
	})
}
