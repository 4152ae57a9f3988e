package servicetoken

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
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
	if loads != 2 {
		t.Fatalf("signer loaded %d times, want 2 (one failure, then cached)", loads)
	}
}
