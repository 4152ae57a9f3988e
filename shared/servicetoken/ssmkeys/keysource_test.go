package ssmkeys

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/clocktest"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/servicetoken/internal/awstest"
)

func newSSMSource(api ParameterReader, ttl time.Duration, c *clocktest.Clock) *SSMKeySource {
	s := NewKeySource(api, testParam, ttl)
	s.now = c.Now
	return s
}

func TestSSMKeySourceCaches(t *testing.T) {
	f := newFixture()
	api := awstest.NewSSM()
	api.Set(testParam, jwksOf(t, ordersIssuer, ordersKID, f.ordersKey))
	c := newClock(t0)
	src := newSSMSource(api, time.Minute, c)
	ctx := context.Background()

	for range 5 {
		keys, err := src.PublicKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if k := keys[ordersKID]; k.Issuer != ordersIssuer || !k.Key.Equal(pub(f.ordersKey)) {
			t.Fatalf("key %+v", k)
		}
	}
	if n := api.GetCount(); n != 1 {
		t.Fatalf("%d GetParameter calls within the TTL, want 1", n)
	}
	c.Advance(time.Minute)
	if _, err := src.PublicKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if n := api.GetCount(); n != 2 {
		t.Fatalf("%d GetParameter calls after the TTL, want 2", n)
	}
}

func TestSSMKeySourceDefaultTTL(t *testing.T) {
	if src := NewKeySource(awstest.NewSSM(), testParam, 0); src.ttl != servicetoken.DefaultKeyCacheTTL {
		t.Fatalf("ttl %v, want %v", src.ttl, servicetoken.DefaultKeyCacheTTL)
	}
}

// A key published after the cache was filled (a rotation) verifies at once:
// the unknown kid makes the Verifier refresh.
func TestSSMKeySourceRefreshesOnUnknownKID(t *testing.T) {
	f := newFixture()
	api := awstest.NewSSM()
	api.Set(testParam, jwksOf(t, usersIssuer, usersKID, f.usersKey))
	c := newClock(t0)
	src := newSSMSource(api, time.Hour, c)
	v := servicetoken.NewVerifier(src, testAudience, servicetoken.WithClock(c.Now))
	ctx := context.Background()
	if _, err := src.PublicKeys(ctx); err != nil {
		t.Fatal(err)
	}

	c.Advance(minRefreshInterval) // the last read is old enough to refresh
	api.Set(testParam, jwksOf(t, usersIssuer, usersKID, f.usersKey, ordersIssuer, ordersKID, f.ordersKey))
	tok := serviceToken(f.ordersKey, ordersIssuer, ordersKID, c.Now())
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("token of a newly published key: %v", err)
	}
	if n := api.GetCount(); n != 2 {
		t.Fatalf("%d GetParameter calls, want 2 (fill, refresh)", n)
	}
	// Known kids do not refresh.
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if n := api.GetCount(); n != 2 {
		t.Fatalf("%d GetParameter calls after a known kid, want 2", n)
	}
}

// Tokens with made-up kids cost at most one GetParameter per
// minRefreshInterval.
func TestSSMKeySourceRateLimitsRefresh(t *testing.T) {
	f := newFixture()
	api := awstest.NewSSM()
	api.Set(testParam, jwksOf(t, ordersIssuer, ordersKID, f.ordersKey))
	c := newClock(t0)
	src := newSSMSource(api, time.Hour, c)
	v := servicetoken.NewVerifier(src, testAudience, servicetoken.WithClock(c.Now))
	ctx := context.Background()

	garbage := func(i int) string {
		return signRaw(testKey("attacker"), edHeader(fmt.Sprintf("kid-%d", i)), claimsAt(ordersIssuer, c.Now(), time.Minute))
	}
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			_, err := v.Verify(ctx, garbage(i))
			if !errors.Is(err, servicetoken.ErrUnknownKey) {
				t.Errorf("garbage kid: %v", err)
			}
		})
	}
	wg.Wait()
	if n := api.GetCount(); n != 1 {
		t.Fatalf("%d GetParameter calls for 200 unknown kids at once, want 1 (the first fill)", n)
	}
	c.Advance(minRefreshInterval - time.Second)
	_, _ = v.Verify(ctx, garbage(1000))
	if n := api.GetCount(); n != 1 {
		t.Fatalf("%d GetParameter calls inside the interval, want 1", n)
	}
	c.Advance(time.Second)
	for i := range 50 {
		_, _ = v.Verify(ctx, garbage(2000+i))
	}
	if n := api.GetCount(); n != 2 {
		t.Fatalf("%d GetParameter calls once the interval passed, want 2", n)
	}
}

func TestSSMKeySourceServesStaleKeysWhileSSMFails(t *testing.T) {
	f := newFixture()
	api := awstest.NewSSM()
	api.Set(testParam, jwksOf(t, ordersIssuer, ordersKID, f.ordersKey))
	c := newClock(t0)
	src := newSSMSource(api, time.Minute, c)
	ctx := context.Background()
	if _, err := src.PublicKeys(ctx); err != nil {
		t.Fatal(err)
	}

	boom := errors.New("throttled")
	api.GetErr = boom
	c.Advance(time.Minute + staleGrace - time.Second)
	keys, err := src.PublicKeys(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("within the grace: %v, %v; want the stale keys", keys, err)
	}
	// A failing SSM is not retried on every call either.
	before := api.GetCount()
	if _, err := src.PublicKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if api.GetCount() != before {
		t.Fatal("a failing SSM was asked again inside the refresh interval")
	}
	c.Advance(time.Second)
	if _, err := src.PublicKeys(ctx); !errors.Is(err, boom) {
		t.Fatalf("past the grace: %v, want %v", err, boom)
	}
	tok := serviceToken(f.ordersKey, ordersIssuer, ordersKID, c.Now())
	_, err = servicetoken.NewVerifier(src, testAudience, servicetoken.WithClock(c.Now)).Verify(ctx, tok)
	if !errors.Is(err, boom) || errors.Is(err, servicetoken.ErrInvalid) {
		t.Fatalf("Verify with no keys: %v, want the SSM error, not servicetoken.ErrInvalid", err)
	}
}

func TestSSMKeySourceKeepsGoodKeysOverACorruptParameter(t *testing.T) {
	f := newFixture()
	api := awstest.NewSSM()
	api.Set(testParam, jwksOf(t, ordersIssuer, ordersKID, f.ordersKey))
	c := newClock(t0)
	src := newSSMSource(api, time.Minute, c)
	ctx := context.Background()
	if _, err := src.PublicKeys(ctx); err != nil {
		t.Fatal(err)
	}
	api.Set(testParam, `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"k"}]}`)
	c.Advance(time.Minute)
	if keys, err := src.PublicKeys(ctx); err != nil || len(keys) != 1 {
		t.Fatalf("%v, %v; want the previous keys", keys, err)
	}
	// A cold source has nothing to fall back on.
	if _, err := newSSMSource(api, time.Minute, c).PublicKeys(ctx); err == nil {
		t.Fatal("corrupt JWKS accepted")
	}
}

func TestSSMKeySourceMissingParameter(t *testing.T) {
	_, err := NewKeySource(awstest.NewSSM(), testParam, time.Minute).PublicKeys(context.Background())
	if err == nil || !awserr.HasCode(err, "ParameterNotFound") {
		t.Fatalf("err = %v, want ParameterNotFound", err)
	}
}

// With nothing cached, a failed read is not repeated by every request: the
// source waits 1 s, then 2 s, 4 s... up to 30 s between reads, answering
// with the last error meanwhile, and a success ends the backoff.
func TestSSMKeySourceBacksOffWhileSSMFailsAndNothingIsCached(t *testing.T) {
	f := newFixture()
	api := awstest.NewSSM()
	boom := errors.New("ssm unavailable")
	api.GetErr = boom
	c := newClock(t0)
	src := newSSMSource(api, time.Minute, c)
	ctx := context.Background()

	expectReads := func(want int, why string) {
		t.Helper()
		if _, err := src.PublicKeys(ctx); !errors.Is(err, boom) {
			t.Fatalf("%s: err = %v, want %v", why, err, boom)
		}
		if n := api.GetCount(); n != want {
			t.Fatalf("%s: %d GetParameter calls, want %d", why, n, want)
		}
	}
	expectReads(1, "first call")
	for range 100 {
		expectReads(1, "a stream of calls right after a failure")
	}
	if _, err := src.Refresh(ctx); !errors.Is(err, boom) || api.GetCount() != 1 {
		t.Fatalf("Refresh during the backoff: %v, %d calls; want the last error and no call", err, api.GetCount())
	}
	reads := 1
	for _, wait := range []time.Duration{1, 2, 4, 8, 16, 30, 30} {
		wait *= time.Second
		c.Advance(wait - time.Millisecond)
		expectReads(reads, fmt.Sprintf("just under %v after the last read", wait))
		c.Advance(time.Millisecond)
		reads++
		expectReads(reads, fmt.Sprintf("%v after the last read", wait))
	}

	// SSM is back: the next read succeeds, and the backoff starts over.
	api.GetErr = nil
	api.Set(testParam, jwksOf(t, ordersIssuer, ordersKID, f.ordersKey))
	c.Advance(30 * time.Second)
	if keys, err := src.PublicKeys(ctx); err != nil || len(keys) != 1 {
		t.Fatalf("after SSM recovered: %v, %v", keys, err)
	}
	// Long after, the cache is past its grace and SSM fails again: the
	// first retry comes after 1 s, not 30.
	api.GetErr = boom
	c.Advance(time.Minute + staleGrace)
	reads = api.GetCount() + 1
	expectReads(reads, "the stale cache expired")
	c.Advance(time.Second)
	expectReads(reads+1, "1 s later: the backoff was reset by the success")
}

// A request whose own context ends while the source reads SSM says nothing
// about SSM: the next request tries at once.
func TestSSMKeySourceNoBackoffForACanceledCaller(t *testing.T) {
	api := awstest.NewSSM()
	c := newClock(t0)
	src := newSSMSource(api, time.Minute, c)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	api.GetErr = context.Canceled
	if _, err := src.PublicKeys(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	api.GetErr = nil
	api.Set(testParam, jwksOf(t, ordersIssuer, ordersKID, newFixture().ordersKey))
	if _, err := src.PublicKeys(context.Background()); err != nil {
		t.Fatalf("after a canceled caller: %v, want a fresh read", err)
	}
}
