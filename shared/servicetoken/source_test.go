package servicetoken

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTokenSourceReusesUntilNearExpiry(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	loads := 0
	load := func(context.Context) (*Signer, error) {
		loads++
		if loads == 1 {
			return nil, errors.New("secrets manager unavailable")
		}
		return NewSigner("shop-orders", "kid-1", key), nil
	}
	ts := NewTokenSource(load, "orders", "shop-api", []string{"users:read"}, time.Hour)
	now := time.Now()
	ts.now = func() time.Time { return now }
	ctx := context.Background()

	if _, err := ts.Token(ctx); err == nil {
		t.Fatal("a failed key load must fail the call")
	}
	first, err := ts.Token(ctx)
	if err != nil {
		t.Fatalf("the load must be retried: %v", err)
	}
	if again, _ := ts.Token(ctx); again != first {
		t.Fatal("a fresh token must be reused")
	}
	if got := ts.expires.Sub(now); got > MaxServiceTTL+time.Second {
		t.Fatalf("lifetime %v exceeds the service maximum", got)
	}
	now = ts.expires.Add(-reuseMargin + time.Second) // inside the margin
	next, err := ts.Token(ctx)
	if err != nil || next == first {
		t.Fatalf("a token near expiry must be replaced (err %v)", err)
	}
	// Once per minted token, never for a reused one: the failure, then two
	// mints (the signer's source caches the key; see keystore.SignerSource).
	if loads != 3 {
		t.Fatalf("signer asked for %d times, want 3 (one failure, two mints)", loads)
	}
}

// Each new token is signed by the signer the source hands out now: after a
// rotation and the retirement of the old key, a warm instance must not keep
// minting tokens with a key nobody accepts any more.
func TestTokenSourceAsksForTheSignerOfTheMoment(t *testing.T) {
	_, oldKey, _ := ed25519.GenerateKey(rand.Reader)
	_, newKey, _ := ed25519.GenerateKey(rand.Reader)
	current := NewSigner("shop-orders", "kid-old", oldKey)
	ts := NewTokenSource(func(context.Context) (*Signer, error) { return current, nil }, "orders", "shop-api", nil, MaxServiceTTL)
	now := time.Now()
	ts.now = func() time.Time { return now }
	ctx := context.Background()
	kidOf := func(tok string) string {
		t.Helper()
		h, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
		if err != nil {
			t.Fatal(err)
		}
		var hdr struct{ Kid string }
		if err := json.Unmarshal(h, &hdr); err != nil {
			t.Fatal(err)
		}
		return hdr.Kid
	}
	first, err := ts.Token(ctx)
	if err != nil || kidOf(first) != "kid-old" {
		t.Fatalf("first token: kid %s, %v", kidOf(first), err)
	}
	current = NewSigner("shop-orders", "kid-new", newKey) // the key source moved on
	now = ts.expires                                      // time for a new token
	next, err := ts.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if kid := kidOf(next); kid != "kid-new" {
		t.Fatalf("new token signed with %s, want kid-new: the source kept its first signer", kid)
	}
}
