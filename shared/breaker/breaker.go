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
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/shop-serverless/shop/shared/log"
)

// States reported by State.
const (
	StateClosed   = "closed"
	StateOpen     = "open"
	StateHalfOpen = "half-open"
)

// Defaults for zero Settings fields.
const (
	DefaultFailureRatio  = 0.5
	DefaultMinRequests   = 5
	DefaultInterval      = 30 * time.Second
	DefaultOpenTimeout   = 10 * time.Second
	DefaultSharedRefresh = 2 * time.Second
	DefaultProbeTimeout  = 5 * time.Second

	// MaxSharedRefresh bounds SharedRefresh: the promise is that every
	// instance sees a trip within 5 s.
	MaxSharedRefresh = 5 * time.Second
)

// minRetryAfter is the smallest retry hint an OpenError carries: HTTP's
// Retry-After counts whole seconds, and "retry in 0 s" invites a hot loop.
const minRetryAfter = time.Second

// Settings configure a Breaker. Zero fields take the defaults above.
type Settings struct {
	// Name is the dependency, e.g. "users": the shared item's key and the
	// name in errors and logs.
	Name string
	// FailureRatio trips the breaker when failures/completed calls reaches it
	// (0 < ratio <= 1; default 0.5) ...
	FailureRatio float64
	// ... over at least MinRequests completed calls (default 5) ...
	MinRequests uint32
	// ... within a rolling window of Interval (default 30 s).
	Interval time.Duration
	// OpenTimeout is how long the breaker stays open before one probe call
	// is let through (default 10 s).
	OpenTimeout time.Duration
	// SharedRefresh is how stale this instance's copy of the shared state may
	// be (default 2 s, at most MaxSharedRefresh).
	SharedRefresh time.Duration
	// ProbeTimeout is the longest a probe call may run, and so how long its
	// fleet-wide lease lasts if the prober dies (default 5 s). The probe's
	// context is cut to it; a caller's earlier deadline still wins.
	ProbeTimeout time.Duration
	// IsFailure tells a failed call from one that merely returned an error a
	// healthy dependency gives (a 404, say). Default: any non-nil error but
	// context.Canceled. A cancellation it does not call a failure is not
	// counted at all: the caller gave up, which says nothing about the
	// dependency.
	IsFailure func(error) bool
	// Now is the clock for the shared state (tests); default time.Now. The
	// per-instance gobreaker keeps its own wall clock.
	Now func() time.Time
}

func (s Settings) withDefaults() Settings {
	if s.FailureRatio <= 0 {
		s.FailureRatio = DefaultFailureRatio
	}
	if s.FailureRatio > 1 {
		s.FailureRatio = 1
	}
	if s.MinRequests == 0 {
		s.MinRequests = DefaultMinRequests
	}
	if s.Interval <= 0 {
		s.Interval = DefaultInterval
	}
	if s.OpenTimeout <= 0 {
		s.OpenTimeout = DefaultOpenTimeout
	}
	if s.SharedRefresh <= 0 {
		s.SharedRefresh = DefaultSharedRefresh
	}
	if s.SharedRefresh > MaxSharedRefresh {
		s.SharedRefresh = MaxSharedRefresh
	}
	if s.ProbeTimeout <= 0 {
		s.ProbeTimeout = DefaultProbeTimeout
	}
	if s.IsFailure == nil {
		s.IsFailure = defaultIsFailure
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	return s
}

func defaultIsFailure(err error) bool {
	return err != nil && !errors.Is(err, context.Canceled)
}

// SettingsFromEnv returns the default Settings for the dependency name with
// the operator's overrides applied, so that one dependency's breaker can be
// tuned without a code change:
//
//	BREAKER_<NAME>_FAILURE_RATIO  a number in (0, 1]
//	BREAKER_<NAME>_MIN_REQUESTS   a positive integer
//	BREAKER_<NAME>_OPEN_TIMEOUT   a Go duration ("30s")
//
// <NAME> is name in upper case with every character other than A-Z and 0-9
// turned into "_" ("payment-provider" -> PAYMENT_PROVIDER). Every bad
// variable is reported, and the error never quotes a value.
func SettingsFromEnv(name string) (Settings, error) {
	s := Settings{Name: name}.withDefaults()
	s.Now = nil // keep the zero value: the clock is not configuration
	prefix := "BREAKER_" + envName(name) + "_"
	var errs []error
	if v, ok := os.LookupEnv(prefix + "FAILURE_RATIO"); ok {
		r, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || !(r > 0 && r <= 1) {
			errs = append(errs, fmt.Errorf("%sFAILURE_RATIO: want a number in (0, 1]", prefix))
		} else {
			s.FailureRatio = r
		}
	}
	if v, ok := os.LookupEnv(prefix + "MIN_REQUESTS"); ok {
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
		if err != nil || n == 0 {
			errs = append(errs, fmt.Errorf("%sMIN_REQUESTS: want a positive integer", prefix))
		} else {
			s.MinRequests = uint32(n)
		}
	}
	if v, ok := os.LookupEnv(prefix + "OPEN_TIMEOUT"); ok {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%sOPEN_TIMEOUT: want a positive Go duration such as 30s", prefix))
		} else {
			s.OpenTimeout = d
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Settings{}, fmt.Errorf("breaker %s: %w", name, err)
	}
	return s, nil
}

func envName(name string) string {
	b := []byte(strings.ToUpper(name))
	for i, c := range b {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

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
	if to != gobreaker.StateOpen {
		return
	}
	b.tripMu.Lock()
	b.tripped = true
	b.localOpenUntil = b.s.Now().Add(b.s.OpenTimeout)
	b.tripMu.Unlock()
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
