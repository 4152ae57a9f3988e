package breaker

import (
	"context"
	"log/slog"
	"time"

	"github.com/shop-serverless/shop/shared/log"
)

// stateStore is the shared state as the Breaker uses it; *Shared implements
// it on DynamoDB, and the unit tests with an in-memory fake.
type stateStore interface {
	load(ctx context.Context, name string) (sharedState, error)
	publishOpen(ctx context.Context, name string, openUntil, now time.Time) (sharedState, error)
	acquireProbe(ctx context.Context, name, owner string, leaseUntil, now time.Time) (st sharedState, won bool, err error)
	closeProbe(ctx context.Context, name, owner string, now time.Time) (sharedState, error)
	releaseProbe(ctx context.Context, name, owner string, now time.Time) (sharedState, error)
}

// sharedState is one instance's view of the shared item. The zero value is
// "closed, nobody probing", which is also what an absent item means.
type sharedState struct {
	open       bool
	openUntil  time.Time
	probeUntil time.Time
	probeOwner string
}

// blocked reports whether a call must fail fast at now, and for how long.
func (st sharedState) blocked(now time.Time) (time.Duration, bool) {
	switch {
	case !st.open:
		return 0, false
	case now.Before(st.openUntil):
		return st.openUntil.Sub(now), true
	case now.Before(st.probeUntil): // another call holds the probe lease
		return st.probeUntil.Sub(now), true
	}
	return 0, false
}

// sharedView returns the cached shared state, reading it first when it is
// older than SharedRefresh. One caller reads; concurrent callers meanwhile
// use the previous copy (or, before the first read completes, "closed"), so
// a slow DynamoDB slows one call per refresh, not all of them. The read is eventually consistent: it costs half a strongly
// consistent one, its lag (well under a second) fits inside the 5 s promise,
// and no decision rests on it alone, since every transition is a conditional
// write that DynamoDB evaluates on the current item.
func (b *Breaker) sharedView(ctx context.Context) sharedState {
	b.mu.Lock()
	now := b.s.Now()
	stale := b.fetchedAt.IsZero() || now.Sub(b.fetchedAt) >= b.s.SharedRefresh
	if !stale || b.refreshing {
		st := b.cache
		b.mu.Unlock()
		return st
	}
	b.refreshing = true
	gen := b.cacheGen
	b.mu.Unlock()

	rctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	st, err := b.shared.load(rctx, b.s.Name)
	cancel()

	b.mu.Lock()
	defer b.mu.Unlock()
	b.refreshing = false
	// A failed read still counts as a refresh, so a DynamoDB outage costs one
	// attempt (and one log line) per SharedRefresh rather than one per call.
	b.fetchedAt = b.s.Now()
	if err != nil {
		b.logShared(ctx, "read shared state", err)
		st = sharedState{} // this instance's own breaker decides alone
	}
	if b.cacheGen == gen {
		b.cache = st
	}
	return b.cache
}

// storeView caches the state a write returned: it is at least as fresh as
// any read in flight.
func (b *Breaker) storeView(st sharedState) {
	b.mu.Lock()
	b.cache = st
	b.cacheGen++
	b.fetchedAt = b.s.Now()
	b.mu.Unlock()
}

// sharedTimeout bounds each DynamoDB call on the call path: the shared state
// must never make a call much slower than the dependency itself.
const sharedTimeout = time.Second

// writeContext is for writes that record what already happened: they must
// happen even when the caller's context is done (the failure being recorded
// may well be its deadline), and before Execute returns, since Lambda
// freezes the instance after the response.
func (b *Breaker) writeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), sharedTimeout)
}

func (b *Breaker) logShared(ctx context.Context, what string, err error) {
	log.FromContext(ctx).LogAttrs(ctx, slog.LevelWarn, "breaker: shared state unavailable, using this instance's state only",
		slog.String("breaker", b.s.Name), slog.String("operation", what), slog.String("error", err.Error()))
}
