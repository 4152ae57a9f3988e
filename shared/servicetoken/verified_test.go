package servicetoken

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// keysNow is a key source whose set a test changes (a rotation, a retired
// key) between verifications.
type keysNow struct {
	mu  sync.Mutex
	set KeySet
}

func (k *keysNow) PublicKeys(context.Context) (KeySet, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.set, nil
}

func (k *keysNow) replace(set KeySet) { k.mu.Lock(); k.set = set; k.mu.Unlock() }

// cachingVerifier verifies with f's keys (changeable) at *now, remembering
// verified tokens.
func cachingVerifier(f fixture, now *time.Time) (*Verifier, *keysNow) {
	keys := &keysNow{set: f.keys}
	return NewVerifier(keys, testAudience, WithClock(func() time.Time { return *now }), WithUserIssuer(usersIssuer), WithVerifiedCache(4)), keys
}

// A remembered signature spares only the signature: every hit checks the
// key set and the claims again, as a first verification would.
func TestVerifiedCacheChecksEverythingButTheSignatureAgain(t *testing.T) {
	f := newFixture()
	tok, want := issue(t, f.signer(ordersIssuer, t0), KindService, "orders", []string{"users:read"}, testServiceTTL)
	withoutKey := func(kid string) KeySet {
		set := KeySet{}
		for k, v := range f.keys {
			if k != kid {
				set[k] = v
			}
		}
		return set
	}
	for _, tt := range []struct {
		name   string
		change func(now *time.Time, keys *keysNow)
		scopes []string
		want   error // nil: accepted
	}{
		{"same token, nothing changed", func(*time.Time, *keysNow) {}, []string{"users:read"}, nil},
		{"expired since", func(now *time.Time, _ *keysNow) { *now = t0.Add(testServiceTTL + DefaultLeeway + time.Second) }, nil, ErrExpired},
		{"a scope it lacks", func(*time.Time, *keysNow) {}, []string{"orders:write"}, ErrScope},
		{"its key retired", func(_ *time.Time, keys *keysNow) { keys.replace(withoutKey(ordersKID)) }, nil, ErrUnknownKey},
		{"its kid now names another key", func(_ *time.Time, keys *keysNow) {
			set := withoutKey(ordersKID)
			set[ordersKID] = PublicKey{Issuer: ordersIssuer, Key: pub(testKey("impostor")), Policy: ordersPolicy}
			keys.replace(set)
		}, nil, ErrSignature},
		{"its issuer's policy narrowed", func(_ *time.Time, keys *keysNow) {
			set := withoutKey(ordersKID)
			set[ordersKID] = PublicKey{Issuer: ordersIssuer, Key: pub(f.ordersKey), Policy: Policy{Kinds: []string{KindService}, Subject: "orders", Scopes: []string{"inventory:read"}}}
			keys.replace(set)
		}, nil, ErrPolicy},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := t0.Add(time.Second)
			v, keys := cachingVerifier(f, &now)
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Fatalf("first verification: %v", err)
			}
			if _, ok := v.verified.get(tok); !ok {
				t.Fatal("a verified token was not remembered")
			}
			tt.change(&now, keys)
			got, err := v.Verify(context.Background(), tok, tt.scopes...)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want == nil && (got.ID != want.ID || got.Subject != want.Subject || !got.HasScope("users:read")):
				t.Fatalf("claims %+v, want %+v", got, want)
			case tt.want != nil && (!errors.Is(err, tt.want) || !errors.Is(err, ErrInvalid)):
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// Only the same string hits: a token changed in any byte is checked in
// full, and refused.
func TestVerifiedCacheIsKeyedByTheWholeToken(t *testing.T) {
	f := newFixture()
	tok, _ := issue(t, f.signer(ordersIssuer, t0), KindService, "orders", []string{"users:read"}, testServiceTTL)
	now := t0.Add(time.Second)
	v, _ := cachingVerifier(f, &now)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	forged := tok[:len(tok)-2] + "AA"
	if forged == tok {
		forged = tok[:len(tok)-2] + "BA"
	}
	if _, err := v.Verify(context.Background(), forged); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a changed signature: err = %v, want a rejection", err)
	}
}

// The cache holds copies: what a caller does to its Claims does not reach
// the next caller, and the cache never grows past its size.
func TestVerifiedCacheCopiesAndIsBounded(t *testing.T) {
	f := newFixture()
	now := t0.Add(time.Second)
	v, _ := cachingVerifier(f, &now)
	var toks []string
	for i := range 9 {
		s := f.signer(ordersIssuer, t0)
		tok, _ := issue(t, s, KindService, "orders", []string{"users:read"}, testServiceTTL-time.Duration(i)*time.Second)
		toks = append(toks, tok)
	}
	c, err := v.Verify(context.Background(), toks[0])
	if err != nil {
		t.Fatal(err)
	}
	c.Scopes[0] = "admin:everything"
	again, err := v.Verify(context.Background(), toks[0], "users:read")
	if err != nil || again.Scopes[0] != "users:read" {
		t.Fatalf("after the caller changed its copy: %+v, %v", again, err)
	}
	for _, tok := range toks {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
		if n := len(v.verified.entries); n > v.verified.max {
			t.Fatalf("%d entries, at most %d", n, v.verified.max)
		}
	}
}

// Without the option nothing is remembered.
func TestNoVerifiedCacheByDefault(t *testing.T) {
	if v := newFixture().verifier(t0); v.verified != nil {
		t.Fatal("a verifier remembers tokens without WithVerifiedCache")
	}
}

func BenchmarkVerifyCache(b *testing.B) {
	f := newFixture()
	tok, _, err := f.signer(ordersIssuer, t0).Issue(KindService, "orders", []string{testAudience}, []string{"users:read"}, MaxServiceTTL)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, size := range []int{0, DefaultVerifiedCacheSize} {
		v := f.verifier(t0.Add(time.Minute), WithVerifiedCache(size))
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok, "users:read"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
