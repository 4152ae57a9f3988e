// Package breaker wraps calls to another service (or to the payment provider)
// in a circuit breaker whose open state is shared by every instance of a
// function, so that a dependency found failing by one Lambda instance is left
// alone by all of them, instead of each new instance rediscovering the outage
// with its own failed calls.
//
//	b := breaker.New(breaker.Settings{Name: "users"}, breaker.NewShared(db, platformTable))
//	err := b.Execute(ctx, func(ctx context.Context) error { return callUsers(ctx) })
//	// errors.Is(err, breaker.ErrOpen): fn was not called; *OpenError says when to retry
//
// Each instance counts its own calls with a sony/gobreaker breaker (a failure
// ratio over a rolling window). What instances share, through one item in the
// platform service's table (pk BREAKER#<name>, sk STATE), is only the verdict:
//
//   - an instance whose breaker trips publishes "open until T" (extending, never
//     shortening, what another instance published);
//   - every instance reads the item at most every SharedRefresh (cached in
//     memory) and fails fast while it says open, so the whole fleet stops
//     calling within SharedRefresh (at most 5 s) of the first trip;
//   - once T has passed, exactly one instance fleet-wide wins a probe lease
//     (a conditional write) and makes a trial call: success closes the
//     breaker for everyone, failure opens it for another OpenTimeout. The
//     others fail fast until then.
//
// gobreaker's own DistributedCircuitBreaker is not used: it holds a fleet-wide
// lock around every call, which would serialise all instances on DynamoDB.
// Here the call path costs at most one eventually consistent GetItem per
// SharedRefresh, and writes happen only when the state changes.
//
// The shared state is an optimisation, never a dependency: when DynamoDB
// cannot be read or written, the breaker logs and carries on with its own
// instance's state alone.
package breaker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/shop-serverless/shop/shared/metrics"
)

// States reported by State.
const (
	StateClosed   = "closed"
	StateOpen     = "open"
	StateHalfOpen = "half-open"
)

// minRetryAfter is the smallest retry hint an OpenError carries: HTTP's
// Retry-After counts whole seconds, and "retry in 0 s" invites a hot loop.
const minRetryAfter = time.Second

// ErrOpen is what every error from a call the breaker refused matches
// (errors.Is); the error itself is an *OpenError.
var ErrOpen = errors.New("circuit breaker open")

// OpenError reports a call refused without calling the dependency.
type OpenError struct {
	Name string
	// RetryAfter is when the breaker expects to let calls through again:
	// never below 1 s.
	RetryAfter time.Duration
}

func (e *OpenError) Error() string {
	return fmt.Sprintf("breaker %s: %v; retry after %v", e.Name, ErrOpen, e.RetryAfter)
}

// Is makes errors.Is(err, ErrOpen) true.
func (e *OpenError) Is(target error) bool { return target == ErrOpen }

// Breaker is one dependency's circuit breaker in this instance. It is safe
// for concurrent use.
type Breaker struct {
	s      Settings
	cb     *gobreaker.TwoStepCircuitBreaker[struct{}]
	shared stateStore // nil: this instance only

	// mu guards the cached shared state. It is never held while calling
	// gobreaker or DynamoDB.
	mu         sync.Mutex
	cache      sharedState
	cacheGen   uint64    // bumped by every write; a slower read must not undo it
	fetchedAt  time.Time // zero: never read
	refreshing bool

	// tripMu guards what gobreaker's OnStateChange records. That callback
	// runs under gobreaker's own lock, so it only takes this leaf lock and
	// does no I/O; Execute publishes afterwards.
	tripMu         sync.Mutex
	tripped        bool
	localOpenUntil time.Time
	entered        []string // states entered since the last emitTransitions
}

// New returns a Breaker. shared may be nil: the breaker then protects this
// instance only.
func New(s Settings, shared *Shared) *Breaker {
	var st stateStore
	if shared != nil {
		st = shared
	}
	return newBreaker(s, st)
}

func newBreaker(s Settings, shared stateStore) *Breaker {
	s = s.withDefaults()
	b := &Breaker{s: s, shared: shared}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         s.Name,
		MaxRequests:  1, // half-open: a single trial call
		Interval:     s.Interval,
		BucketPeriod: s.Interval / 10, // a rolling window: a burst is not forgotten at a window edge
		Timeout:      s.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			completed := c.TotalSuccesses + c.TotalFailures
			return completed >= s.MinRequests && float64(c.TotalFailures) >= s.FailureRatio*float64(completed)
		},
		IsSuccessful: func(err error) bool { return !s.IsFailure(err) },
		IsExcluded: func(err error) bool {
			return errors.Is(err, context.Canceled) && !s.IsFailure(err)
		},
		OnStateChange: b.onStateChange,
	})
	return b
}

func (b *Breaker) onStateChange(_ string, _, to gobreaker.State) {
	b.tripMu.Lock()
	defer b.tripMu.Unlock()
	b.entered = append(b.entered, to.String()) // StateOpen, StateHalfOpen, StateClosed
	if to != gobreaker.StateOpen {
		return
	}
	b.tripped = true
	b.localOpenUntil = b.s.Now().Add(b.s.OpenTimeout)
}

// emitTransitions counts the states this instance's breaker entered since
// the last call (metrics.BreakerTransitions, dimension state). Execute
// calls it on its way out: onStateChange runs under gobreaker's lock,
// where nothing is written.
func (b *Breaker) emitTransitions() {
	b.tripMu.Lock()
	entered := b.entered
	b.entered = nil
	b.tripMu.Unlock()
	for _, state := range entered {
		metrics.Count(metrics.BreakerTransitions, 1, metrics.Dim(metrics.DimState, state))
	}
}

// takeTripped reports, once, that this instance's breaker has tripped since
// the last call.
func (b *Breaker) takeTripped() bool {
	b.tripMu.Lock()
	defer b.tripMu.Unlock()
	t := b.tripped
	b.tripped = false
	return t
}

// Name is the dependency's name.
func (b *Breaker) Name() string { return b.s.Name }

// Execute calls fn unless the breaker is open, and counts its result. A
// refused call returns an *OpenError (errors.Is(err, ErrOpen)) without
// calling fn; otherwise fn's own error is returned unchanged. A panic in fn
// counts as a failure and is re-raised.
func (b *Breaker) Execute(ctx context.Context, fn func(context.Context) error) error {
	defer b.emitTransitions()
	var probe *probeLease
	if b.shared != nil {
		var refused error
		probe, refused = b.admitShared(ctx)
		if refused != nil {
			return refused
		}
	}

	done, err := b.cb.Allow()
	if err != nil {
		if probe != nil {
			// Won the lease, but this instance's own breaker is still open (its
			// clock runs a little behind the shared one): hand the lease back.
			b.endProbe(ctx, probe, probeAbandoned)
		}
		return b.localOpenError(err)
	}

	callCtx := ctx
	if probe != nil {
		var cancel context.CancelFunc
		callCtx, cancel = context.WithDeadline(ctx, probe.callDeadline)
		defer cancel()
	}
	panicked := true
	defer func() {
		if panicked {
			perr := fmt.Errorf("breaker %s: panic in call", b.s.Name)
			done(perr)
			b.afterCall(ctx, probe, perr)
		}
	}()
	err = fn(callCtx)
	panicked = false
	done(err)
	b.afterCall(ctx, probe, err)
	return err
}

// admitShared consults the shared state: it refuses the call (an
// *OpenError), lets it through, or lets it through as the fleet's probe.
func (b *Breaker) admitShared(ctx context.Context) (*probeLease, error) {
	st := b.sharedView(ctx)
	now := b.s.Now()
	if wait, blocked := st.blocked(now); blocked {
		return nil, b.openError(wait)
	}
	if !st.open {
		return nil, nil
	}
	// The open window is over and nobody holds the probe lease: try to
	// become the fleet's one probe. An instance whose own breaker is still
	// open would only waste the lease.
	if b.cb.State() == gobreaker.StateOpen {
		return nil, b.localOpenError(gobreaker.ErrOpenState)
	}
	lease := b.newLease(ctx, now)
	wctx, cancel := b.writeContext(ctx)
	st, won, err := b.shared.acquireProbe(wctx, b.s.Name, lease.owner, lease.until, now)
	cancel()
	if err != nil {
		b.logShared(ctx, "acquire probe lease", err)
		return nil, nil // degrade: this instance's breaker decides alone
	}
	b.storeView(st)
	if won {
		return lease, nil
	}
	// Lost: another instance is probing, or the state moved on (re-opened,
	// or already closed by a probe we had not seen yet).
	if wait, blocked := st.blocked(b.s.Now()); blocked {
		return nil, b.openError(wait)
	}
	if st.open {
		return nil, b.openError(minRetryAfter)
	}
	return nil, nil
}

// afterCall writes what the call taught us to the shared state.
func (b *Breaker) afterCall(ctx context.Context, probe *probeLease, err error) {
	tripped := b.takeTripped()
	if b.shared == nil {
		return
	}
	if probe != nil {
		switch {
		case b.s.IsFailure(err):
			b.endProbe(ctx, probe, probeFailed)
		case err != nil && errors.Is(err, context.Canceled):
			b.endProbe(ctx, probe, probeAbandoned) // the caller gave up: no verdict
		default:
			b.endProbe(ctx, probe, probeSucceeded)
		}
		return
	}
	if tripped {
		b.publishOpen(ctx)
	}
}

type probeOutcome int

const (
	probeSucceeded probeOutcome = iota
	probeFailed
	probeAbandoned
)

// endProbe records a probe's outcome: a failure opens the breaker for
// another OpenTimeout, a success closes it for everyone, and an abandoned
// probe hands the lease back so that another call may probe at once.
func (b *Breaker) endProbe(ctx context.Context, probe *probeLease, outcome probeOutcome) {
	if outcome == probeFailed {
		b.publishOpen(ctx)
		return
	}
	wctx, cancel := b.writeContext(ctx)
	defer cancel()
	var (
		st  sharedState
		err error
	)
	if outcome == probeSucceeded {
		st, err = b.shared.closeProbe(wctx, b.s.Name, probe.owner, b.s.Now())
	} else {
		st, err = b.shared.releaseProbe(wctx, b.s.Name, probe.owner, b.s.Now())
	}
	if err != nil {
		b.logShared(ctx, "end probe", err)
		return
	}
	b.storeView(st)
}

// publishOpen tells the fleet this breaker is open for OpenTimeout from now.
// The write only ever extends the open window, and it cancels any probe in
// flight: a fresh failure is newer evidence than whatever the probe finds.
func (b *Breaker) publishOpen(ctx context.Context) {
	wctx, cancel := b.writeContext(ctx)
	defer cancel()
	now := b.s.Now()
	st, err := b.shared.publishOpen(wctx, b.s.Name, now.Add(b.s.OpenTimeout), now)
	if err != nil {
		b.logShared(ctx, "publish open state", err)
		return
	}
	b.storeView(st)
}

// probeLease is this call's claim to be the fleet's one probe.
type probeLease struct {
	owner        string
	until        time.Time // when other instances may take the lease over
	callDeadline time.Time // the probe call's own deadline, a little earlier
}

// leaseSlack separates the end of the probe call from the end of its lease,
// covering the result write and modest clock skew between instances.
const leaseSlack = time.Second

func (b *Breaker) newLease(ctx context.Context, now time.Time) *probeLease {
	deadline := now.Add(b.s.ProbeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	return &probeLease{owner: newOwner(), until: deadline.Add(leaseSlack), callDeadline: deadline}
}

func newOwner() string {
	var p [16]byte
	_, _ = rand.Read(p[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(p[:])
}

func (b *Breaker) openError(wait time.Duration) *OpenError {
	return &OpenError{Name: b.s.Name, RetryAfter: max(wait, minRetryAfter)}
}

// localOpenError describes a refusal by this instance's gobreaker: open
// (retry when its timeout ends) or half-open with its one trial call busy.
func (b *Breaker) localOpenError(err error) *OpenError {
	if errors.Is(err, gobreaker.ErrOpenState) {
		b.tripMu.Lock()
		until := b.localOpenUntil
		b.tripMu.Unlock()
		return b.openError(until.Sub(b.s.Now()))
	}
	return b.openError(minRetryAfter)
}

// State reports the breaker as this instance sees it: "open" when either its
// own breaker or the (cached) shared state is open, "half-open" while a probe
// is due or running, else "closed". For metrics and tests.
func (b *Breaker) State(ctx context.Context) string {
	local := b.cb.State()
	if local == gobreaker.StateOpen {
		return StateOpen
	}
	if b.shared != nil {
		st := b.sharedView(ctx)
		if st.open {
			if b.s.Now().Before(st.openUntil) {
				return StateOpen
			}
			return StateHalfOpen
		}
	}
	return local.String()
}
