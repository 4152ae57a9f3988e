package ssmkeys

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/servicetoken/internal/awstest"
	"github.com/shop-serverless/shop/shared/servicetoken/jwksstore"
	"github.com/shop-serverless/shop/shared/servicetoken/keystore"
)

// A verifier that cached the JWKS before a rotation denies the new key's
// tokens until its refresh interval has passed, then finds it; the reason
// keystore.ActivationDelay exists. (Part of keystore's lifecycle test once;
// here because it needs this source's clock.)
func TestWarmSourceFindsARotatedKey(t *testing.T) {
	ctx := context.Background()
	sm, api := awstest.NewSecrets(), awstest.NewSSM()
	jwks := jwksstore.New(api, naming.JWKSParameter("shop"))
	aud, usersIss := naming.Audience("shop"), naming.Issuer("shop", "users")
	if _, err := keystore.EnsureIssuer(ctx, sm, jwks, "shop", "users", policyOf("users")); err != nil {
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
	c := newClock(time.Now())
	warmSrc := NewKeySource(api, naming.JWKSParameter("shop"), time.Hour)
	warmSrc.now = c.Now
	warm := servicetoken.NewVerifier(warmSrc, aud, servicetoken.WithUserIssuer(usersIss))
	if _, err := warm.Verify(ctx, tok1); err != nil {
		t.Fatal(err)
	}

	kid2, err := keystore.Rotate(ctx, sm, jwks, "shop", "users", policyOf("users"))
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
	c.Advance(minRefreshInterval)
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
