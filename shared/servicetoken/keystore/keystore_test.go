package keystore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/clocktest"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/servicetoken/internal/awstest"
	"github.com/shop-serverless/shop/shared/servicetoken/internal/tokentest"
	"github.com/shop-serverless/shop/shared/servicetoken/jwksstore"
	"github.com/shop-serverless/shop/shared/servicetoken/ssmkeys"
)

// testKeyLifecycle runs the operator's whole story against sm and ssm:
// ensure, sign, rotate (old and new tokens both verify), retire (old
// tokens stop verifying, new ones and other issuers' do not). The unit
// test runs it on fakes, the integration test on the emulator.
//
// What a warm verifier (one that cached the JWKS before the rotation) sees
// is ssmkeys' TestWarmSourceFindsARotatedKey: it needs that source's clock.
// Verifiers read the JWKS through reader, key maintenance edits it
// through ssmAPI.
func testKeyLifecycle(t *testing.T, sm SecretsAPI, ssmAPI jwksstore.SSMAPI, reader ssmkeys.ParameterReader, prefix string) {
	t.Helper()
	ctx := context.Background()
	aud := naming.Audience(prefix)
	usersIss := naming.Issuer(prefix, "users")
	param := naming.JWKSParameter(prefix)
	jwks := jwksstore.New(ssmAPI, param)
	// A fresh SSMKeySource per check: what a cold verifier would see.
	verify := func(tok string) (servicetoken.Claims, error) {
		src := ssmkeys.NewKeySource(reader, param, time.Minute)
		return servicetoken.NewVerifier(src, aud, servicetoken.WithUserIssuer(usersIss)).Verify(ctx, tok)
	}

	for _, svc := range []string{"users", "operator"} {
		created, err := EnsureIssuer(ctx, sm, jwks, prefix, svc, policyOf(svc))
		if err != nil || !created {
			t.Fatalf("EnsureIssuer(%s) = %v, %v; want created", svc, created, err)
		}
	}
	for _, svc := range []string{"users", "operator"} {
		created, err := EnsureIssuer(ctx, sm, jwks, prefix, svc, policyOf(svc))
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
	opTok, _, err := operator.Issue(servicetoken.KindService, "operator", []string{aud}, []string{"inventory:write"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := verify(opTok); err != nil || !c.HasScope("inventory:write") {
		t.Fatalf("operator token: %+v, %v", c, err)
	}
	tok1, _, err := users1.Issue(servicetoken.KindUser, "user-1", []string{aud}, nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(tok1); err != nil {
		t.Fatalf("user token, key 1: %v", err)
	}
	// As published, login's key mints user tokens and nothing else.
	forged, _, err := users1.Issue(servicetoken.KindService, "orders", []string{aud}, []string{"orders:admin"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(forged); !errors.Is(err, servicetoken.ErrPolicy) {
		t.Fatalf("service token from the users key: %v, want servicetoken.ErrPolicy", err)
	}

	kid2, err := Rotate(ctx, sm, jwks, prefix, "users", policyOf("users"))
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	// Published at once, but nobody signs with it before ActivationDelay.
	if still, err := LoadSigner(ctx, sm, prefix, "users"); err != nil || still.KeyID() != users1.KeyID() {
		t.Fatalf("right after Rotate the signer must keep the old key: %v, %v", still, err)
	}
	if err := Retire(ctx, sm, jwks, prefix, "users", users1.KeyID()); !errors.Is(err, servicetoken.ErrActiveKey) {
		t.Fatalf("retiring the key that still signs: %v, want servicetoken.ErrActiveKey", err)
	}
	users2, err := loadSigner(ctx, sm, prefix, "users", time.Now().Add(ActivationDelay+time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if users2.KeyID() != kid2 || kid2 == users1.KeyID() || !kidRE.MatchString(kid2) {
		t.Fatalf("after Rotate the signer uses %s, Rotate said %s, before %s", users2.KeyID(), kid2, users1.KeyID())
	}
	tok2, _, err := users2.Issue(servicetoken.KindUser, "user-1", []string{aud}, nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"key 1": tok1, "key 2": tok2} {
		if _, err := verify(tok); err != nil {
			t.Fatalf("after Rotate, token of %s: %v", name, err)
		}
	}

	if err := Retire(ctx, sm, jwks, prefix, "users", kid2); !errors.Is(err, servicetoken.ErrActiveKey) {
		t.Fatalf("Retire(active) = %v, want servicetoken.ErrActiveKey", err)
	}
	if err := Retire(ctx, sm, jwks, prefix, "operator", users1.KeyID()); !errors.Is(err, servicetoken.ErrKeyNotFound) {
		t.Fatalf("Retire of another issuer's key = %v, want servicetoken.ErrKeyNotFound", err)
	}
	// Once key 2 signs, key 1 may still be in use: by a warm SignerSource
	// until it reloads, and by the tokens it signed until they expire.
	if err := retire(ctx, sm, jwks, prefix, "users", users1.KeyID(), time.Now().Add(ActivationDelay+time.Second)); !errors.Is(err, servicetoken.ErrKeyInUse) {
		t.Fatalf("Retire(key 1) once key 2 signs: %v, want servicetoken.ErrKeyInUse", err)
	}
	// After that, key 1 may go.
	if err := retire(ctx, sm, jwks, prefix, "users", users1.KeyID(), time.Now().Add(ActivationDelay+SignerReloadInterval+servicetoken.MaxUserTTL+time.Second)); err != nil {
		t.Fatalf("Retire(key 1): %v", err)
	}
	if _, err := verify(tok1); !errors.Is(err, servicetoken.ErrUnknownKey) {
		t.Fatalf("after Retire, token of key 1: %v, want servicetoken.ErrUnknownKey", err)
	}
	for name, tok := range map[string]string{"key 2": tok2, "operator": opTok} {
		if _, err := verify(tok); err != nil {
			t.Fatalf("after Retire, token of %s: %v", name, err)
		}
	}
	if err := Retire(ctx, sm, jwks, prefix, "users", users1.KeyID()); !errors.Is(err, servicetoken.ErrKeyNotFound) {
		t.Fatalf("second Retire = %v, want servicetoken.ErrKeyNotFound", err)
	}
	// Nothing left to repair.
	if created, err := EnsureIssuer(ctx, sm, jwks, prefix, "users", policyOf("users")); err != nil || created {
		t.Fatalf("EnsureIssuer after the story = %v, %v", created, err)
	}

	if _, err := Rotate(ctx, sm, jwks, prefix, "nobody", policyOf("nobody")); !errors.Is(err, servicetoken.ErrNoSigningKeys) {
		t.Fatalf("Rotate(no secret) = %v, want servicetoken.ErrNoSigningKeys", err)
	}
	if _, err := LoadSigner(ctx, sm, prefix, "nobody"); !errors.Is(err, servicetoken.ErrNoSigningKeys) {
		t.Fatalf("LoadSigner(no secret) = %v, want servicetoken.ErrNoSigningKeys", err)
	}
	if err := Retire(ctx, sm, jwks, prefix, "nobody", kid2); !errors.Is(err, servicetoken.ErrNoSigningKeys) {
		t.Fatalf("Retire(no secret) = %v, want servicetoken.ErrNoSigningKeys", err)
	}
}

func TestKeyLifecycle(t *testing.T) {
	ssmAPI := awstest.NewSSM()
	testKeyLifecycle(t, awstest.NewSecrets(), ssmAPI, ssmAPI, "shop")
}

func TestSecretFormat(t *testing.T) {
	sm, ssmAPI, jwks := newFakes()
	if _, err := EnsureIssuer(context.Background(), sm, jwks, "shop", "users", policyOf("users")); err != nil {
		t.Fatal(err)
	}
	var secret struct {
		Active string `json:"active"`
		Keys   []struct {
			KID, Seed, Created string
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(sm.Value("shop/signing/users")), &secret); err != nil {
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
	var published struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal([]byte(ssmAPI.Value("/shop/jwks")), &published); err != nil {
		t.Fatal(err)
	}
	// The users issuer's policy: user tokens only, so no sub or scopes.
	want := map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": secret.Active, "alg": "EdDSA", "use": "sig", "iss": "shop-users", "kinds": []any{"user"}}
	got := published.Keys[0]
	for k, v := range want {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("jwk %s = %v, want %v", k, got[k], v)
		}
	}
	x, _ := got["x"].(string)
	_, private := got["d"]
	_, sub := got["sub"]
	_, scopes := got["scopes"]
	if private || sub || scopes || len(x) != 43 {
		t.Errorf("jwk %v", got)
	}
}

// The policy is published with every key of the issuer, a changed one is
// reconciled by EnsureIssuer (and by Rotate, for every key), and an invalid
// one is refused before anything is written.
func TestPolicyIsPublishedAndReconciled(t *testing.T) {
	ctx := context.Background()
	sm, ssmAPI, jwks := newFakes()
	policyAt := func() map[string]servicetoken.Policy {
		t.Helper()
		set, err := servicetoken.ParseJWKS([]byte(ssmAPI.Value("/shop/jwks")))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]servicetoken.Policy{}
		for kid, k := range set {
			out[kid] = k.Policy
		}
		return out
	}
	narrow := servicetoken.Policy{Kinds: []string{servicetoken.KindService}, Subject: "orders", Scopes: []string{"users:read"}}
	wide := servicetoken.Policy{Kinds: []string{servicetoken.KindService}, Subject: "orders", Scopes: []string{"users:read", "inventory:write"}}

	if _, err := EnsureIssuer(ctx, sm, jwks, "shop", "orders", narrow); err != nil {
		t.Fatal(err)
	}
	kid2, err := Rotate(ctx, sm, jwks, "shop", "orders", narrow)
	if err != nil {
		t.Fatal(err)
	}
	for kid, p := range policyAt() {
		if !reflect.DeepEqual(p, narrow) {
			t.Fatalf("key %s published with %+v, want %+v", kid, p, narrow)
		}
	}

	// The manifest grew a scope: ensure republishes every key with it, once.
	if created, err := EnsureIssuer(ctx, sm, jwks, "shop", "orders", wide); err != nil || created {
		t.Fatalf("EnsureIssuer(wide) = %v, %v", created, err)
	}
	got := policyAt()
	if len(got) != 2 {
		t.Fatalf("%d keys published, want 2", len(got))
	}
	for kid, p := range got {
		if !reflect.DeepEqual(p, wide) {
			t.Fatalf("after the policy changed, key %s has %+v, want %+v", kid, p, wide)
		}
	}
	version := ssmAPI.Version("/shop/jwks")
	if _, err := EnsureIssuer(ctx, sm, jwks, "shop", "orders", wide); err != nil || ssmAPI.Version("/shop/jwks") != version {
		t.Fatalf("second EnsureIssuer: %v, version %d -> %d; want no write", err, version, ssmAPI.Version("/shop/jwks"))
	}

	// Rotate publishes its key with the policy it is given, and brings the
	// issuer's older keys to it as well: an issuer has one policy.
	kid3, err := Rotate(ctx, sm, jwks, "shop", "orders", narrow)
	if err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{kid2, kid3} {
		if p := policyAt()[kid]; !reflect.DeepEqual(p, narrow) {
			t.Fatalf("after Rotate, key %s has %+v, want %+v", kid, p, narrow)
		}
	}

	// Invalid policies change nothing at all: no key, no secret.
	version = ssmAPI.Version("/shop/jwks")
	for name, p := range map[string]servicetoken.Policy{
		"none":                   {},
		"scopes on user tokens":  {Kinds: []string{servicetoken.KindUser}, Scopes: []string{"users:read"}},
		"service without a name": {Kinds: []string{servicetoken.KindService}},
	} {
		if _, err := EnsureIssuer(ctx, sm, jwks, "shop", "payments", p); err == nil || !strings.Contains(err.Error(), "shop-payments") {
			t.Errorf("EnsureIssuer with policy %s: %v, want an error naming the issuer", name, err)
		}
		if _, err := Rotate(ctx, sm, jwks, "shop", "orders", p); err == nil {
			t.Errorf("Rotate with policy %s succeeded", name)
		}
	}
	if sm.Value("shop/signing/payments") != "" || ssmAPI.Version("/shop/jwks") != version {
		t.Fatal("an invalid policy wrote a secret or the JWKS")
	}
}

// EnsureIssuer finishes what an interrupted run left behind.
func TestEnsureIssuerRepairs(t *testing.T) {
	ctx := context.Background()

	t.Run("secret without its public key", func(t *testing.T) {
		sm, ssmAPI, jwks := newFakes()
		if _, err := EnsureIssuer(ctx, sm, jwks, "shop", "users", policyOf("users")); err != nil {
			t.Fatal(err)
		}
		ssmAPI.Set("/shop/jwks", `{"keys":[]}`)
		if created, err := EnsureIssuer(ctx, sm, jwks, "shop", "users", policyOf("users")); err != nil || created {
			t.Fatalf("EnsureIssuer = %v, %v", created, err)
		}
		signer, err := LoadSigner(ctx, sm, "shop", "users")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(ssmAPI.Value("/shop/jwks"), signer.KeyID()) {
			t.Fatal("the secret's key was not published again")
		}
	})

	t.Run("published key the secret never got", func(t *testing.T) {
		sm, ssmAPI, jwks := newFakes()
		if _, err := EnsureIssuer(ctx, sm, jwks, "shop", "users", policyOf("users")); err != nil {
			t.Fatal(err)
		}
		if _, err := EnsureIssuer(ctx, sm, jwks, "shop", "orders", policyOf("orders")); err != nil {
			t.Fatal(err)
		}
		// A Rotate that published, then died before writing the secret.
		doc, err := servicetoken.ParseJWKSDocument([]byte(ssmAPI.Value("/shop/jwks")))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := doc.Upsert("shop-users", "shop-users-orphan", pub(testKey("orphan")), policyOf("users")); err != nil {
			t.Fatal(err)
		}
		out, _ := doc.Marshal()
		ssmAPI.Set("/shop/jwks", string(out))

		if _, err := EnsureIssuer(ctx, sm, jwks, "shop", "users", policyOf("users")); err != nil {
			t.Fatal(err)
		}
		set, err := servicetoken.ParseJWKS([]byte(ssmAPI.Value("/shop/jwks")))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := set["shop-users-orphan"]; ok || len(set) != 2 {
			t.Fatalf("after repair %v; want the orphan gone and both issuers' keys kept", set)
		}
	})

	t.Run("secret created without a value", func(t *testing.T) {
		// Terraform may create the secret resource and leave its value to us.
		sm, _, jwks := newFakes()
		sm.SetRaw("shop/signing/users", nil)
		created, err := EnsureIssuer(ctx, sm, jwks, "shop", "users", policyOf("users"))
		if err != nil || !created {
			t.Fatalf("EnsureIssuer = %v, %v; want created", created, err)
		}
		if _, err := LoadSigner(ctx, sm, "shop", "users"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("create retried by the SDK", func(t *testing.T) {
		sm, ssmAPI, jwks := newFakes()
		sm.CreateRetried = true
		created, err := EnsureIssuer(ctx, sm, jwks, "shop", "users", policyOf("users"))
		if err != nil || !created {
			t.Fatalf("EnsureIssuer = %v, %v; want created", created, err)
		}
		signer, err := LoadSigner(ctx, sm, "shop", "users")
		if err != nil || !strings.Contains(ssmAPI.Value("/shop/jwks"), signer.KeyID()) {
			t.Fatalf("signer %v, %v; want its key published", signer, err)
		}
	})

	t.Run("unchanged runs write nothing", func(t *testing.T) {
		sm, ssmAPI, jwks := newFakes()
		if _, err := EnsureIssuer(ctx, sm, jwks, "shop", "users", policyOf("users")); err != nil {
			t.Fatal(err)
		}
		version := ssmAPI.Version("/shop/jwks")
		for range 3 {
			if _, err := EnsureIssuer(ctx, sm, jwks, "shop", "users", policyOf("users")); err != nil {
				t.Fatal(err)
			}
		}
		if v := ssmAPI.Version("/shop/jwks"); v != version || sm.Puts() != 0 {
			t.Fatalf("JWKS version %d -> %d, %d secret writes; want no writes", version, v, sm.Puts())
		}
	})
}

// A concurrent edit of the shared JWKS cannot be prevented (no conditional
// put in SSM) but is reported, so the operator re-runs ensure.
func TestJWKSConcurrentEditIsReported(t *testing.T) {
	ctx := context.Background()
	sm, ssmAPI, jwks := newFakes()
	if _, err := EnsureIssuer(ctx, sm, jwks, "shop", "users", policyOf("users")); err != nil {
		t.Fatal(err)
	}
	// payments publishes its first key between orders' read and write.
	ssmAPI.BeforePut = func() {
		if _, err := EnsureIssuer(ctx, sm, jwks, "shop", "payments", policyOf("payments")); err != nil {
			t.Errorf("concurrent EnsureIssuer: %v", err)
		}
	}
	_, err := EnsureIssuer(ctx, sm, jwks, "shop", "orders", policyOf("orders"))
	if err == nil || !strings.Contains(err.Error(), "changed while") {
		t.Fatalf("err = %v, want a concurrent-edit report", err)
	}
	payments, err := LoadSigner(ctx, sm, "shop", "payments")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(ssmAPI.Value("/shop/jwks"), payments.KeyID()) {
		t.Fatal("payments' key survived: the scenario lost nothing")
	}
	// Re-running ensure is the documented fix.
	for _, svc := range []string{"users", "orders", "payments"} {
		if _, err := EnsureIssuer(ctx, sm, jwks, "shop", svc, policyOf(svc)); err != nil {
			t.Fatal(err)
		}
	}
	set, err := servicetoken.ParseJWKS([]byte(ssmAPI.Value("/shop/jwks")))
	if err != nil || len(set) != 3 {
		t.Fatalf("after re-running ensure: %v, %v; want 3 keys", set, err)
	}
}

// The SDK retries a put whose response was lost; the versions that makes
// hold our own value and are no concurrent edit.
func TestJWKSRetriedPutIsNotAConcurrentEdit(t *testing.T) {
	_, ssmAPI, jwks := newFakes()
	ssmAPI.Retries = 2
	created, err := EnsureIssuer(context.Background(), awstest.NewSecrets(), jwks, "shop", "users", policyOf("users"))
	if err != nil || !created {
		t.Fatalf("EnsureIssuer = %v, %v", created, err)
	}
	if v := ssmAPI.Version("/shop/jwks"); v != 3 {
		t.Fatalf("version %d, want 3: the retries did not happen", v)
	}
}

func TestCorruptSecretIsRefusedWithoutLeakingIt(t *testing.T) {
	sm, _, jwks := newFakes()
	seed := base64.StdEncoding.EncodeToString(make([]byte, 31))
	for name, body := range map[string]string{
		"not JSON":          `{"active":"k","keys":[{"kid":"k","seed":"SECRETSEED`,
		"short seed":        `{"active":"k","keys":[{"kid":"k","seed":"` + seed + `"}]}`,
		"active not listed": `{"active":"k2","keys":[]}`,
		"duplicate kid":     `{"active":"k","keys":[{"kid":"k","seed":"` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `"},{"kid":"k","seed":"` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			sm.SetRaw("shop/signing/users", &body)
			for op, err := range map[string]error{
				"LoadSigner": func() error { _, err := LoadSigner(context.Background(), sm, "shop", "users"); return err }(),
				"Ensure": func() error {
					_, err := EnsureIssuer(context.Background(), sm, jwks, "shop", "users", policyOf("users"))
					return err
				}(),
				"Rotate": func() error {
					_, err := Rotate(context.Background(), sm, jwks, "shop", "users", policyOf("users"))
					return err
				}(),
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

// newFakes returns fakes of both services and the JWKS store over the fake
// SSM's /shop/jwks (naming.JWKSParameter("shop")).
func newFakes() (*awstest.Secrets, *awstest.SSM, JWKSStore) {
	ssmAPI := awstest.NewSSM()
	return awstest.NewSecrets(), ssmAPI, jwksstore.New(ssmAPI, naming.JWKSParameter("shop"))
}

// Shared fixtures (internal/tokentest, internal/awstest).
var (
	testKey  = tokentest.Key
	pub      = tokentest.Public
	newClock = clocktest.New
	policyOf = awstest.PolicyOf
)
