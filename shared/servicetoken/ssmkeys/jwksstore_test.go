package ssmkeys

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/servicetoken/internal/awstest"
	"github.com/shop-serverless/shop/shared/servicetoken/keystore"
)

var _ keystore.JWKSStore = (*JWKSStore)(nil)

// testJWKSStore runs Load and Save against api: the unit test on the
// fake, the integration test on the emulator.
func testJWKSStore(t *testing.T, api SSMAPI, parameter string, otherWriter func(value string)) {
	t.Helper()
	ctx := context.Background()
	store := NewJWKSStore(api, parameter)
	if got := store.String(); got != "JWKS parameter "+parameter {
		t.Fatalf("String() = %q", got)
	}
	if doc, v, found, err := store.Load(ctx); err != nil || found || v != 0 || doc != "" {
		t.Fatalf("Load of no parameter = %q, %d, %v, %v; want not found", doc, v, found, err)
	}
	one := jwksOf(t, ordersIssuer, ordersKID, testKey("orders"))
	if err := store.Save(ctx, one, 0); err != nil {
		t.Fatalf("first Save: %v", err)
	}
	doc, v1, found, err := store.Load(ctx)
	if err != nil || !found || doc != one || v1 < 1 {
		t.Fatalf("Load = %q, %d, %v, %v; want the saved document", doc, v1, found, err)
	}
	// The parameter is what verifiers read.
	if keys, err := NewSSMKeySource(api, parameter, time.Minute).PublicKeys(ctx); err != nil || len(keys) != 1 {
		t.Fatalf("key source over the saved JWKS: %v, %v", keys, err)
	}

	two := jwksOf(t, ordersIssuer, ordersKID, testKey("orders"), usersIssuer, usersKID, testKey("users"))
	if err := store.Save(ctx, two, v1); err != nil {
		t.Fatalf("Save over the version read: %v", err)
	}
	_, v2, _, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Another writer between our Load and Save: reported, after writing.
	otherWriter(`{"keys":[]}`)
	err = store.Save(ctx, one, v2)
	if !errors.Is(err, servicetoken.ErrConcurrentEdit) || !strings.Contains(err.Error(), parameter) {
		t.Fatalf("Save over a concurrent edit: %v, want ErrConcurrentEdit naming %s", err, parameter)
	}
	if doc, _, _, err := store.Load(ctx); err != nil || doc != one {
		t.Fatalf("after the reported Save: %q, %v; want our document written", doc, err)
	}
}

func TestJWKSStore(t *testing.T) {
	api := awstest.NewSSM()
	testJWKSStore(t, api, testParam, func(value string) { api.Set(testParam, value) })
}

func TestJWKSStoreOnEmulator(t *testing.T) {
	_, api, prefix := awstest.EmulatorClients(t)
	param := naming.JWKSParameter(prefix)
	store := NewJWKSStore(api, param)
	testJWKSStore(t, api, param, func(value string) {
		// Through the store with a stale version: a plain overwrite.
		if err := store.Save(context.Background(), value, 1<<40); err != nil {
			t.Fatal(err)
		}
	})
}

// The SDK retries a put whose response was lost; the versions that makes
// hold our own value and are no concurrent edit.
func TestJWKSStoreRetriedPutIsNotAConcurrentEdit(t *testing.T) {
	api := awstest.NewSSM()
	api.Retries = 2
	if err := NewJWKSStore(api, testParam).Save(context.Background(), `{"keys":[]}`, 0); err != nil {
		t.Fatal(err)
	}
	if v := api.Version(testParam); v != 3 {
		t.Fatalf("version %d, want 3: the retries did not happen", v)
	}
}

func TestJWKSStoreLoadFailure(t *testing.T) {
	api := awstest.NewSSM()
	boom := errors.New("throttled")
	api.GetErr = boom
	if _, _, found, err := NewJWKSStore(api, testParam).Load(context.Background()); !errors.Is(err, boom) || found {
		t.Fatalf("Load = found %v, %v; want the SSM error", found, err)
	}
}

// A verifier that cached the JWKS before a rotation denies the new key's
// tokens until its refresh interval has passed, then finds it; the reason
// keystore.ActivationDelay exists. (Part of keystore's lifecycle test once;
// here because it needs this source's clock.)
func TestWarmSourceFindsARotatedKey(t *testing.T) {
	ctx := context.Background()
	sm, api := awstest.NewSecrets(), awstest.NewSSM()
	jwks := NewJWKSStore(api, naming.JWKSParameter("shop"))
	aud, usersIss := naming.Audience("shop"), naming.Issuer("shop", "users")
	if _, err := keystore.EnsureIssuer(ctx, sm, jwks, "shop", "users", issuerPolicy("users")); err != nil {
		t.Fatal(err)
	}
	users1, err := keystore.LoadSigner(ctx, sm, "shop", "users")
	if err != nil {
		t.Fatal(err)
	}
	tok1, _, err := users1.Issue(servicetoken.KindUser, "user-1", []string{aud}, nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Now()}
	warmSrc := NewSSMKeySource(api, naming.JWKSParameter("shop"), time.Hour)
	warmSrc.now = c.now
	warm := servicetoken.NewVerifier(warmSrc, aud, servicetoken.WithUserIssuer(usersIss))
	if _, err := warm.Verify(ctx, tok1); err != nil {
		t.Fatal(err)
	}

	kid2, err := keystore.Rotate(ctx, sm, jwks, "shop", "users", issuerPolicy("users"))
	if err != nil {
		t.Fatal(err)
	}
	// The new key signs only after ActivationDelay; sign with it directly.
	tok2, _, err := servicetoken.NewSigner(usersIss, kid2, secretKey(t, sm, "shop/signing/users", kid2)).
		Issue(servicetoken.KindUser, "user-1", []string{aud}, nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := warm.Verify(ctx, tok2); !errors.Is(err, servicetoken.ErrUnknownKey) {
		t.Fatalf("warm verifier inside its refresh interval: %v, want ErrUnknownKey", err)
	}
	c.advance(minRefreshInterval)
	for name, tok := range map[string]string{"key 1": tok1, "key 2": tok2} {
		if _, err := warm.Verify(ctx, tok); err != nil {
			t.Fatalf("warm verifier after its refresh interval, %s: %v", name, err)
		}
	}
}

// secretKey reads kid's private key from the signing secret (its format is
// keystore's TestSecretFormat).
func secretKey(t *testing.T, sm *awstest.Secrets, secret, kid string) ed25519.PrivateKey {
	t.Helper()
	var keys struct {
		Keys []struct{ KID, Seed string } `json:"keys"`
	}
	if err := json.Unmarshal([]byte(sm.Value(secret)), &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys.Keys {
		if k.KID == kid {
			seed, err := base64.StdEncoding.DecodeString(k.Seed)
			if err != nil {
				t.Fatal(err)
			}
			return ed25519.NewKeyFromSeed(seed)
		}
	}
	t.Fatalf("no key %s in secret %s", kid, secret)
	return nil
}
