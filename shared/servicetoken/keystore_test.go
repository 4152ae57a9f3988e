package servicetoken

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/naming"
)

// testKeyLifecycle runs the operator's whole story against sm and ssm:
// ensure, sign, rotate (old and new tokens both verify), retire (old
// tokens stop verifying, new ones and other issuers' do not). The unit
// test runs it on fakes, the integration test on the emulator.
func testKeyLifecycle(t *testing.T, sm SecretsAPI, ssmAPI SSMAPI, prefix string) {
	t.Helper()
	ctx := context.Background()
	aud := naming.Audience(prefix)
	usersIss := naming.Issuer(prefix, "users")
	param := naming.JWKSParameter(prefix)
	// A fresh SSMKeySource per check: what a cold verifier would see.
	verify := func(tok string) (Claims, error) {
		src := NewSSMKeySource(ssmAPI, param, time.Minute)
		return NewVerifier(src, aud, WithUserIssuer(usersIss)).Verify(ctx, tok)
	}

	for _, svc := range []string{"users", "operator"} {
		created, err := EnsureIssuer(ctx, sm, ssmAPI, prefix, svc)
		if err != nil || !created {
			t.Fatalf("EnsureIssuer(%s) = %v, %v; want created", svc, created, err)
		}
	}
	for _, svc := range []string{"users", "operator"} {
		created, err := EnsureIssuer(ctx, sm, ssmAPI, prefix, svc)
		if err != nil || created {
			t.Fatalf("second EnsureIssuer(%s) = %v, %v; want unchanged", svc, created, err)
		}
	}

	users1, err := LoadSigner(ctx, sm, prefix, "users")
	if err != nil {
		t.Fatalf("LoadSigner(users): %v", err)
	}
	kidRE := regexp.MustCompile(`^` + regexp.QuoteMeta(usersIss) + `-\d{8}T\d{6}-[0-9a-f]{4}$`)
	if users1.Issuer() != usersIss || !kidRE.MatchString(users1.KeyID()) {
		t.Fatalf("signer %s/%s; want issuer %s and a kid like %s", users1.Issuer(), users1.KeyID(), usersIss, kidRE)
	}
	operator, err := LoadSigner(ctx, sm, prefix, "operator")
	if err != nil {
		t.Fatalf("LoadSigner(operator): %v", err)
	}
	opTok, _, err := operator.Issue(KindService, "operator", []string{aud}, []string{"inventory:write"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := verify(opTok); err != nil || !c.HasScope("inventory:write") {
		t.Fatalf("operator token: %+v, %v", c, err)
	}
	tok1, _, err := users1.Issue(KindUser, "user-1", []string{aud}, nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(tok1); err != nil {
		t.Fatalf("user token, key 1: %v", err)
	}

	// A warm verifier that cached the JWKS before the rotation.
	warmSrc := NewSSMKeySource(ssmAPI, param, time.Hour)
	warm := NewVerifier(warmSrc, aud, WithUserIssuer(usersIss))
	if _, err := warm.Verify(ctx, tok1); err != nil {
		t.Fatal(err)
	}

	kid2, err := Rotate(ctx, sm, ssmAPI, prefix, "users")
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	// Published at once, but nobody signs with it before ActivationDelay.
	if still, err := LoadSigner(ctx, sm, prefix, "users"); err != nil || still.KeyID() != users1.KeyID() {
		t.Fatalf("right after Rotate the signer must keep the old key: %v, %v", still, err)
	}
	if err := Retire(ctx, sm, ssmAPI, prefix, "users", users1.KeyID()); !errors.Is(err, ErrActiveKey) {
		t.Fatalf("retiring the key that still signs: %v, want ErrActiveKey", err)
	}
	users2, err := loadSigner(ctx, sm, prefix, "users", time.Now().Add(ActivationDelay+time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if users2.KeyID() != kid2 || kid2 == users1.KeyID() || !kidRE.MatchString(kid2) {
		t.Fatalf("after Rotate the signer uses %s, Rotate said %s, before %s", users2.KeyID(), kid2, users1.KeyID())
	}
	tok2, _, err := users2.Issue(KindUser, "user-1", []string{aud}, nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"key 1": tok1, "key 2": tok2} {
		if _, err := verify(tok); err != nil {
			t.Fatalf("after Rotate, token of %s: %v", name, err)
		}
	}
	// The warm verifier's refresh interval has not passed: the fresh kid is
	// found once it has (in production: at most minRefreshInterval later).
	warmSrc.attempted = time.Time{}
	if _, err := warm.Verify(ctx, tok2); err != nil {
		t.Fatalf("warm verifier, new kid: %v", err)
	}

	if err := Retire(ctx, sm, ssmAPI, prefix, "users", kid2); !errors.Is(err, ErrActiveKey) {
		t.Fatalf("Retire(active) = %v, want ErrActiveKey", err)
	}
	if err := Retire(ctx, sm, ssmAPI, prefix, "operator", users1.KeyID()); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("Retire of another issuer's key = %v, want ErrKeyNotFound", err)
	}
	// Once key 2 signs, key 1 may go.
	if err := retire(ctx, sm, ssmAPI, prefix, "users", users1.KeyID(), time.Now().Add(ActivationDelay+time.Second)); err != nil {
		t.Fatalf("Retire(key 1): %v", err)
	}
	if _, err := verify(tok1); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("after Retire, token of key 1: %v, want ErrUnknownKey", err)
	}
	for name, tok := range map[string]string{"key 2": tok2, "operator": opTok} {
		if _, err := verify(tok); err != nil {
			t.Fatalf("after Retire, token of %s: %v", name, err)
		}
	}
	if err := Retire(ctx, sm, ssmAPI, prefix, "users", users1.KeyID()); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("second Retire = %v, want ErrKeyNotFound", err)
	}
	// Nothing left to repair.
	if created, err := EnsureIssuer(ctx, sm, ssmAPI, prefix, "users"); err != nil || created {
		t.Fatalf("EnsureIssuer after the story = %v, %v", created, err)
	}

	if _, err := Rotate(ctx, sm, ssmAPI, prefix, "nobody"); !errors.Is(err, ErrNoSigningKeys) {
		t.Fatalf("Rotate(no secret) = %v, want ErrNoSigningKeys", err)
	}
	if _, err := LoadSigner(ctx, sm, prefix, "nobody"); !errors.Is(err, ErrNoSigningKeys) {
		t.Fatalf("LoadSigner(no secret) = %v, want ErrNoSigningKeys", err)
	}
	if err := Retire(ctx, sm, ssmAPI, prefix, "nobody", kid2); !errors.Is(err, ErrNoSigningKeys) {
		t.Fatalf("Retire(no secret) = %v, want ErrNoSigningKeys", err)
	}
}

func TestKeyLifecycle(t *testing.T) {
	testKeyLifecycle(t, newFakeSecrets(), newFakeSSM(), "shop")
}

func TestSecretFormat(t *testing.T) {
	sm, ssmAPI := newFakeSecrets(), newFakeSSM()
	if _, err := EnsureIssuer(context.Background(), sm, ssmAPI, "shop", "users"); err != nil {
		t.Fatal(err)
	}
	var secret struct {
		Active string `json:"active"`
		Keys   []struct {
			KID, Seed, Created string
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(sm.value("shop/signing/users")), &secret); err != nil {
		t.Fatal(err)
	}
	if len(secret.Keys) != 1 || secret.Keys[0].KID != secret.Active {
		t.Fatalf("secret %+v", secret)
	}
	if seed, err := base64.StdEncoding.DecodeString(secret.Keys[0].Seed); err != nil || len(seed) != 32 {
		t.Fatalf("seed %q: %v", secret.Keys[0].Seed, err)
	}
	if _, err := time.Parse(time.RFC3339, secret.Keys[0].Created); err != nil {
		t.Fatalf("created: %v", err)
	}
	var jwks struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal([]byte(ssmAPI.value("/shop/jwks")), &jwks); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"kty": "OKP", "crv": "Ed25519", "kid": secret.Active, "alg": "EdDSA", "use": "sig", "iss": "shop-users"}
	got := jwks.Keys[0]
	for k, v := range want {
		if got[k] != v {
			t.Errorf("jwk %s = %q, want %q", k, got[k], v)
		}
	}
	if _, private := got["d"]; private || len(got["x"]) != 43 {
		t.Errorf("jwk %v", got)
	}
}

// EnsureIssuer finishes what an interrupted run left behind.
func TestEnsureIssuerRepairs(t *testing.T) {
	ctx := context.Background()

	t.Run("secret without its public key", func(t *testing.T) {
		sm, ssmAPI := newFakeSecrets(), newFakeSSM()
		if _, err := EnsureIssuer(ctx, sm, ssmAPI, "shop", "users"); err != nil {
			t.Fatal(err)
		}
		ssmAPI.set("/shop/jwks", `{"keys":[]}`)
		if created, err := EnsureIssuer(ctx, sm, ssmAPI, "shop", "users"); err != nil || created {
			t.Fatalf("EnsureIssuer = %v, %v", created, err)
		}
		signer, err := LoadSigner(ctx, sm, "shop", "users")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(ssmAPI.value("/shop/jwks"), signer.KeyID()) {
			t.Fatal("the secret's key was not published again")
		}
	})

	t.Run("published key the secret never got", func(t *testing.T) {
		sm, ssmAPI := newFakeSecrets(), newFakeSSM()
		if _, err := EnsureIssuer(ctx, sm, ssmAPI, "shop", "users"); err != nil {
			t.Fatal(err)
		}
		if _, err := EnsureIssuer(ctx, sm, ssmAPI, "shop", "orders"); err != nil {
			t.Fatal(err)
		}
		// A Rotate that published, then died before writing the secret.
		doc, err := parseJWKSDoc([]byte(ssmAPI.value("/shop/jwks")))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := doc.upsert(publicJWK("shop-users", "shop-users-orphan", pub(testKey("orphan")))); err != nil {
			t.Fatal(err)
		}
		out, _ := doc.marshal()
		ssmAPI.set("/shop/jwks", string(out))

		if _, err := EnsureIssuer(ctx, sm, ssmAPI, "shop", "users"); err != nil {
			t.Fatal(err)
		}
		set, err := ParseJWKS([]byte(ssmAPI.value("/shop/jwks")))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := set["shop-users-orphan"]; ok || len(set) != 2 {
			t.Fatalf("after repair %v; want the orphan gone and both issuers' keys kept", set)
		}
	})

	t.Run("secret created without a value", func(t *testing.T) {
		// Terraform may create the secret resource and leave its value to us.
		sm, ssmAPI := newFakeSecrets(), newFakeSSM()
		sm.secrets["shop/signing/users"] = nil
		created, err := EnsureIssuer(ctx, sm, ssmAPI, "shop", "users")
		if err != nil || !created {
			t.Fatalf("EnsureIssuer = %v, %v; want created", created, err)
		}
		if _, err := LoadSigner(ctx, sm, "shop", "users"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("create retried by the SDK", func(t *testing.T) {
		sm, ssmAPI := newFakeSecrets(), newFakeSSM()
		sm.createRetried = true
		created, err := EnsureIssuer(ctx, sm, ssmAPI, "shop", "users")
		if err != nil || !created {
			t.Fatalf("EnsureIssuer = %v, %v; want created", created, err)
		}
		signer, err := LoadSigner(ctx, sm, "shop", "users")
		if err != nil || !strings.Contains(ssmAPI.value("/shop/jwks"), signer.KeyID()) {
			t.Fatalf("signer %v, %v; want its key published", signer, err)
		}
	})

	t.Run("unchanged runs write nothing", func(t *testing.T) {
		sm, ssmAPI := newFakeSecrets(), newFakeSSM()
		if _, err := EnsureIssuer(ctx, sm, ssmAPI, "shop", "users"); err != nil {
			t.Fatal(err)
		}
		version := ssmAPI.params["/shop/jwks"].Version
		for range 3 {
			if _, err := EnsureIssuer(ctx, sm, ssmAPI, "shop", "users"); err != nil {
				t.Fatal(err)
			}
		}
		if v := ssmAPI.params["/shop/jwks"].Version; v != version || sm.puts != 0 {
			t.Fatalf("JWKS version %d -> %d, %d secret writes; want no writes", version, v, sm.puts)
		}
	})
}

// A concurrent edit of the shared JWKS cannot be prevented (no conditional
// put in SSM) but is reported, so the operator re-runs ensure.
func TestJWKSConcurrentEditIsReported(t *testing.T) {
	ctx := context.Background()
	sm, ssmAPI := newFakeSecrets(), newFakeSSM()
	if _, err := EnsureIssuer(ctx, sm, ssmAPI, "shop", "users"); err != nil {
		t.Fatal(err)
	}
	// payments publishes its first key between orders' read and write.
	ssmAPI.beforePut = func() {
		if _, err := EnsureIssuer(ctx, sm, ssmAPI, "shop", "payments"); err != nil {
			t.Errorf("concurrent EnsureIssuer: %v", err)
		}
	}
	_, err := EnsureIssuer(ctx, sm, ssmAPI, "shop", "orders")
	if err == nil || !strings.Contains(err.Error(), "changed while") {
		t.Fatalf("err = %v, want a concurrent-edit report", err)
	}
	payments, err := LoadSigner(ctx, sm, "shop", "payments")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(ssmAPI.value("/shop/jwks"), payments.KeyID()) {
		t.Fatal("payments' key survived: the scenario lost nothing")
	}
	// Re-running ensure is the documented fix.
	for _, svc := range []string{"users", "orders", "payments"} {
		if _, err := EnsureIssuer(ctx, sm, ssmAPI, "shop", svc); err != nil {
			t.Fatal(err)
		}
	}
	set, err := ParseJWKS([]byte(ssmAPI.value("/shop/jwks")))
	if err != nil || len(set) != 3 {
		t.Fatalf("after re-running ensure: %v, %v; want 3 keys", set, err)
	}
}

// The SDK retries a put whose response was lost; the versions that makes
// hold our own value and are no concurrent edit.
func TestJWKSRetriedPutIsNotAConcurrentEdit(t *testing.T) {
	ssmAPI := newFakeSSM()
	ssmAPI.retries = 2
	created, err := EnsureIssuer(context.Background(), newFakeSecrets(), ssmAPI, "shop", "users")
	if err != nil || !created {
		t.Fatalf("EnsureIssuer = %v, %v", created, err)
	}
	if v := ssmAPI.params["/shop/jwks"].Version; v != 3 {
		t.Fatalf("version %d, want 3: the retries did not happen", v)
	}
}

func TestCorruptSecretIsRefusedWithoutLeakingIt(t *testing.T) {
	sm, ssmAPI := newFakeSecrets(), newFakeSSM()
	seed := base64.StdEncoding.EncodeToString(make([]byte, 31))
	for name, body := range map[string]string{
		"not JSON":          `{"active":"k","keys":[{"kid":"k","seed":"SECRETSEED`,
		"short seed":        `{"active":"k","keys":[{"kid":"k","seed":"` + seed + `"}]}`,
		"active not listed": `{"active":"k2","keys":[]}`,
		"duplicate kid":     `{"active":"k","keys":[{"kid":"k","seed":"` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `"},{"kid":"k","seed":"` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			sm.secrets["shop/signing/users"] = &body
			for op, err := range map[string]error{
				"LoadSigner": func() error { _, err := LoadSigner(context.Background(), sm, "shop", "users"); return err }(),
				"Ensure":     func() error { _, err := EnsureIssuer(context.Background(), sm, ssmAPI, "shop", "users"); return err }(),
				"Rotate":     func() error { _, err := Rotate(context.Background(), sm, ssmAPI, "shop", "users"); return err }(),
			} {
				if err == nil || !strings.Contains(err.Error(), "shop/signing/users") {
					t.Fatalf("%s: %v, want an error naming the secret", op, err)
				}
				if strings.Contains(err.Error(), "SECRETSEED") || strings.Contains(err.Error(), seed) {
					t.Fatalf("%s: error quotes the secret: %v", op, err)
				}
			}
		})
	}
}
