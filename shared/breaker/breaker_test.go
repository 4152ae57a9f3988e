package breaker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/shop-serverless/shop/shared/clocktest"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/store"
)

var errBoom = errors.New("dependency failed")

func fail(context.Context) error    { return errBoom }
func succeed(context.Context) error { return nil }

// newClock drives the shared-state protocol; gobreaker keeps the wall clock,
// so tests that need this instance's own open timeout to pass use short
// real timeouts instead.
func newClock() *clocktest.Clock { return clocktest.New(time.UnixMilli(1_700_000_000_000)) }

// memStore is the shared state in memory, with the semantics of the
// conditional writes in shared.go (which the integration tests check against
// DynamoDB itself).
type memStore struct {
	mu    sync.Mutex
	items map[string]sharedState
	loads int
}

func newMemStore() *memStore { return &memStore{items: map[string]sharedState{}} }

func (m *memStore) load(_ context.Context, name string) (sharedState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads++
	return m.items[name], nil
}

func (m *memStore) publishOpen(_ context.Context, name string, openUntil, _ time.Time) (sharedState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.items[name]
	if cur.openUntil.IsZero() || cur.openUntil.Before(openUntil) {
		cur = sharedState{open: true, openUntil: openUntil}
		m.items[name] = cur
	}
	return cur, nil
}

func (m *memStore) acquireProbe(_ context.Context, name, owner string, leaseUntil, now time.Time) (sharedState, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.items[name]
	if cur.open && !cur.openUntil.After(now) && !cur.probeUntil.After(now) {
		cur.probeUntil, cur.probeOwner = leaseUntil, owner
		m.items[name] = cur
		return cur, true, nil
	}
	return cur, false, nil
}

func (m *memStore) closeProbe(_ context.Context, name, owner string, _ time.Time) (sharedState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.items[name]
	if cur.probeOwner == owner {
		cur = sharedState{}
		m.items[name] = cur
	}
	return cur, nil
}

func (m *memStore) releaseProbe(_ context.Context, name, owner string, _ time.Time) (sharedState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.items[name]
	if cur.probeOwner == owner {
		cur.probeUntil, cur.probeOwner = time.Time{}, ""
		m.items[name] = cur
	}
	return cur, nil
}

func (m *memStore) get(name string) sharedState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.items[name]
}

// trip makes b fail calls until its own breaker opens.
func trip(t *testing.T, b *Breaker) {
	t.Helper()
	for i := 0; b.cb.State().String() != StateOpen; i++ {
		if i == 2*int(b.s.MinRequests) {
			t.Fatalf("this instance's breaker still %s after %d failures", b.cb.State(), i)
		}
		if err := b.Execute(context.Background(), fail); !errors.Is(err, errBoom) {
			t.Fatalf("call %d while closed: err = %v, want the dependency's error", i, err)
		}
	}
}

// wantOpen asserts that a call is refused without reaching fn.
func wantOpen(t *testing.T, b *Breaker) *OpenError {
	t.Helper()
	called := false
	err := b.Execute(context.Background(), func(context.Context) error { called = true; return nil })
	if called {
		t.Fatal("fn was called through an open breaker")
	}
	var oe *OpenError
	if !errors.As(err, &oe) || !errors.Is(err, ErrOpen) {
		t.Fatalf("err = %v, want an *OpenError matching ErrOpen", err)
	}
	if oe.RetryAfter < time.Second {
		t.Errorf("RetryAfter = %v, want at least 1s", oe.RetryAfter)
	}
	if oe.Name != b.Name() {
		t.Errorf("OpenError.Name = %q, want %q", oe.Name, b.Name())
	}
	return oe
}

func wantCalled(t *testing.T, b *Breaker) {
	t.Helper()
	called := false
	if err := b.Execute(context.Background(), func(context.Context) error { called = true; return nil }); err != nil || !called {
		t.Fatalf("Execute: err = %v, called = %v; want the call to go through", err, called)
	}
}

func TestSettingsDefaults(t *testing.T) {
	s := Settings{Name: "users", SharedRefresh: time.Minute, FailureRatio: 3}.withDefaults()
	if s.FailureRatio != 1 || s.MinRequests != DefaultMinRequests || s.Interval != DefaultInterval ||
		s.OpenTimeout != DefaultOpenTimeout || s.SharedRefresh != MaxSharedRefresh || s.ProbeTimeout != DefaultProbeTimeout {
		t.Errorf("withDefaults = %+v", s)
	}
	if s.IsFailure(context.Canceled) || s.IsFailure(nil) || !s.IsFailure(errBoom) || !s.IsFailure(context.DeadlineExceeded) {
		t.Error("default IsFailure: want every non-nil error but context.Canceled")
	}
}

func TestSettingsFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    func(Settings) bool
		wantErr []string
	}{
		{name: "defaults", want: func(s Settings) bool {
			return s.FailureRatio == DefaultFailureRatio && s.MinRequests == DefaultMinRequests && s.OpenTimeout == DefaultOpenTimeout
		}},
		{name: "overrides", env: map[string]string{
			"BREAKER_PAYMENT_PROVIDER_FAILURE_RATIO": "0.25",
			"BREAKER_PAYMENT_PROVIDER_MIN_REQUESTS":  "20",
			"BREAKER_PAYMENT_PROVIDER_OPEN_TIMEOUT":  "45s",
		}, want: func(s Settings) bool {
			return s.FailureRatio == 0.25 && s.MinRequests == 20 && s.OpenTimeout == 45*time.Second
		}},
		{name: "every bad value reported", env: map[string]string{
			"BREAKER_PAYMENT_PROVIDER_FAILURE_RATIO": "1.5",
			"BREAKER_PAYMENT_PROVIDER_MIN_REQUESTS":  "0",
			"BREAKER_PAYMENT_PROVIDER_OPEN_TIMEOUT":  "secret-ish",
		}, wantErr: []string{"FAILURE_RATIO", "MIN_REQUESTS", "OPEN_TIMEOUT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			s, err := SettingsFromEnv("payment-provider")
			if tt.wantErr != nil {
				if err == nil {
					t.Fatal("want an error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not name %s", err, w)
					}
				}
				if strings.Contains(err.Error(), "secret-ish") {
					t.Errorf("error %q quotes a value", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Name != "payment-provider" || !tt.want(s) {
				t.Errorf("SettingsFromEnv = %+v", s)
			}
		})
	}
}

func TestLocalBreakerTripsOnFailureRatio(t *testing.T) {
	b := New(Settings{Name: "users", MinRequests: 4, FailureRatio: 0.5, OpenTimeout: time.Minute}, nil)
	ctx := context.Background()
	// 1 failure in 3: under the ratio, and under MinRequests anyway.
	_ = b.Execute(ctx, succeed)
	_ = b.Execute(ctx, fail)
	_ = b.Execute(ctx, succeed)
	if got := b.State(ctx); got != StateClosed {
		t.Fatalf("State = %s, want closed", got)
	}
	_ = b.Execute(ctx, fail) // 2 of 4 = 0.5: trips
	if got := b.State(ctx); got != StateOpen {
		t.Fatalf("State = %s, want open", got)
	}
	oe := wantOpen(t, b)
	if oe.RetryAfter < 59*time.Second || oe.RetryAfter > time.Minute {
		t.Errorf("RetryAfter = %v, want about the open timeout", oe.RetryAfter)
	}
}

func TestNonFailuresDoNotTrip(t *testing.T) {
	errNotFound := errors.New("404")
	isFailure := func(err error) bool {
		return err != nil && !errors.Is(err, errNotFound) && !errors.Is(err, context.Canceled)
	}
	ctx := context.Background()

	b := New(Settings{Name: "users", MinRequests: 2, IsFailure: isFailure}, nil)
	for range 10 {
		_ = b.Execute(ctx, func(context.Context) error { return errNotFound })
	}
	_ = b.Execute(ctx, fail)
	_ = b.Execute(ctx, fail)
	if got := b.State(ctx); got != StateClosed {
		t.Fatalf("State = %s after 10 404s and 2 failures, want closed (the 404s are successes)", got)
	}

	// Cancellations are not counted at all, not even as successes: two
	// failures alone trip.
	b = New(Settings{Name: "users", MinRequests: 2, IsFailure: isFailure}, nil)
	for range 10 {
		_ = b.Execute(ctx, func(context.Context) error { return context.Canceled })
	}
	if got := b.State(ctx); got != StateClosed {
		t.Fatalf("State = %s after cancellations, want closed", got)
	}
	_ = b.Execute(ctx, fail)
	_ = b.Execute(ctx, fail)
	if got := b.State(ctx); got != StateOpen {
		t.Errorf("State = %s, want open", got)
	}
}

func TestHalfOpenLetsOneTrialCallThrough(t *testing.T) {
	b := New(Settings{Name: "users", MinRequests: 2, OpenTimeout: 30 * time.Millisecond}, nil)
	trip(t, b)
	wantOpen(t, b)
	time.Sleep(40 * time.Millisecond)
	if got := b.State(context.Background()); got != StateHalfOpen {
		t.Fatalf("State = %s, want half-open", got)
	}
	release := make(chan struct{})
	trial := make(chan error)
	go func() {
		trial <- b.Execute(context.Background(), func(context.Context) error { <-release; return nil })
	}()
	time.Sleep(10 * time.Millisecond) // let the trial call start
	oe := wantOpen(t, b)              // the one trial slot is taken
	if oe.RetryAfter != time.Second {
		t.Errorf("RetryAfter = %v while a trial runs, want 1s", oe.RetryAfter)
	}
	close(release)
	if err := <-trial; err != nil {
		t.Fatal(err)
	}
	wantCalled(t, b)
}

func TestPanicCountsAsFailure(t *testing.T) {
	b := New(Settings{Name: "users", MinRequests: 1}, nil)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic was swallowed")
			}
		}()
		_ = b.Execute(context.Background(), func(context.Context) error { panic("bug") })
	}()
	if got := b.State(context.Background()); got != StateOpen {
		t.Errorf("State = %s after a panic, want open", got)
	}
}

// sharedPair returns breakers on one in-memory shared state: two instances
// of a function.
func sharedPair(t *testing.T, clock *clocktest.Clock, n int) ([]*Breaker, *memStore) {
	t.Helper()
	m := newMemStore()
	var bs []*Breaker
	for range n {
		bs = append(bs, newBreaker(Settings{
			Name: "users", MinRequests: 2, OpenTimeout: 10 * time.Second,
			SharedRefresh: 2 * time.Second, Now: clock.Now,
		}, m))
	}
	return bs, m
}

func TestTripIsSeenByOtherInstancesWithinSharedRefresh(t *testing.T) {
	clock := newClock()
	bs, m := sharedPair(t, clock, 2)
	a, b := bs[0], bs[1]
	wantCalled(t, b) // b caches "closed"

	trip(t, a)
	if st := m.get("users"); !st.open || !st.openUntil.Equal(clock.Now().Add(10*time.Second)) {
		t.Fatalf("shared state after the trip = %+v, want open for the open timeout", st)
	}
	wantOpen(t, a)

	clock.Advance(time.Second)
	wantCalled(t, b) // its copy is 1 s old: still closed, by design
	clock.Advance(time.Second)
	oe := wantOpen(t, b)
	if oe.RetryAfter != 8*time.Second {
		t.Errorf("RetryAfter = %v, want the 8 s left of the shared open window", oe.RetryAfter)
	}
	if got := b.State(context.Background()); got != StateOpen {
		t.Errorf("State = %s, want open", got)
	}
}

func TestSharedStateIsReadAtMostEverySharedRefresh(t *testing.T) {
	clock := newClock()
	bs, m := sharedPair(t, clock, 1)
	for range 20 {
		wantCalled(t, bs[0])
	}
	if m.loads != 1 {
		t.Fatalf("%d reads for 20 calls within SharedRefresh, want 1", m.loads)
	}
	clock.Advance(2 * time.Second)
	wantCalled(t, bs[0])
	if m.loads != 2 {
		t.Errorf("%d reads after SharedRefresh, want 2", m.loads)
	}
}

// probeRace lets every breaker in bs try one call at the same moment after
// the open window; fn blocks until released, so all attempts overlap.
func probeRace(t *testing.T, bs []*Breaker, fn func(context.Context) error) (calls int, refused int, results []error) {
	t.Helper()
	var (
		wg      sync.WaitGroup
		n       atomic.Int32
		start   = make(chan struct{})
		mu      sync.Mutex
		release = make(chan struct{})
	)
	for _, b := range bs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := b.Execute(context.Background(), func(ctx context.Context) error {
				n.Add(1)
				<-release
				return fn(ctx)
			})
			mu.Lock()
			results = append(results, err)
			mu.Unlock()
		}()
	}
	close(start)
	// Release the probe once every instance has either been refused
	// (returned) or entered the call (blocked on release): a fixed wait
	// let a loser, slowed by a loaded machine, reach DynamoDB only after the
	// winner had closed the breaker, and rightly call through.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		settled := len(results) + int(n.Load())
		mu.Unlock()
		if settled == len(bs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s, %d of %d instances were refused or calling", settled, len(bs))
		}
	}
	close(release)
	wg.Wait()
	for _, err := range results {
		if errors.Is(err, ErrOpen) {
			refused++
		}
	}
	return int(n.Load()), refused, results
}

func TestExactlyOneInstanceProbesAndItsSuccessClosesForAll(t *testing.T) {
	clock := newClock()
	bs, m := sharedPair(t, clock, 5)
	trip(t, bs[0]) // bs[0]'s own breaker stays open for 10 s of wall time
	clock.Advance(10 * time.Second)

	calls, refused, _ := probeRace(t, bs[1:], succeed)
	if calls != 1 || refused != 3 {
		t.Fatalf("%d probe calls and %d refusals among 4 instances, want 1 and 3", calls, refused)
	}
	if st := m.get("users"); st.open {
		t.Fatalf("shared state after a successful probe = %+v, want closed", st)
	}
	// The losers learn it at their next refresh; bs[0] keeps its own
	// breaker's verdict until its own timeout.
	clock.Advance(2 * time.Second)
	for _, b := range bs[1:] {
		wantCalled(t, b)
		if got := b.State(context.Background()); got != StateClosed {
			t.Errorf("State = %s, want closed", got)
		}
	}
	wantOpen(t, bs[0])
}

func TestFailedProbeReopens(t *testing.T) {
	clock := newClock()
	bs, m := sharedPair(t, clock, 3)
	trip(t, bs[0])
	clock.Advance(10 * time.Second)

	calls, refused, _ := probeRace(t, bs[1:], fail)
	if calls != 1 || refused != 1 {
		t.Fatalf("%d probe calls and %d refusals, want 1 and 1", calls, refused)
	}
	st := m.get("users")
	if !st.open || !st.openUntil.Equal(clock.Now().Add(10*time.Second)) || st.probeOwner != "" {
		t.Fatalf("shared state after a failed probe = %+v, want open for another open timeout, no lease", st)
	}
	clock.Advance(2 * time.Second)
	for _, b := range bs[1:] {
		if oe := wantOpen(t, b); oe.RetryAfter != 8*time.Second {
			t.Errorf("RetryAfter = %v, want 8s", oe.RetryAfter)
		}
	}
}

func TestLeaseOfACrashedProberExpires(t *testing.T) {
	clock := newClock()
	bs, m := sharedPair(t, clock, 2)
	trip(t, bs[0])
	clock.Advance(10 * time.Second)
	// A prober that died mid-call: it holds the lease and never writes again.
	if _, won, _ := m.acquireProbe(context.Background(), "users", "dead", clock.Now().Add(6*time.Second), clock.Now()); !won {
		t.Fatal("setup: lease not taken")
	}
	b := bs[1]
	if oe := wantOpen(t, b); oe.RetryAfter != 6*time.Second {
		t.Errorf("RetryAfter = %v while another holds the lease, want 6s", oe.RetryAfter)
	}
	if got := b.State(context.Background()); got != StateHalfOpen {
		t.Errorf("State = %s, want half-open", got)
	}
	clock.Advance(6 * time.Second)
	wantCalled(t, b) // takes the lease over and probes
	if st := m.get("users"); st.open {
		t.Errorf("shared state = %+v, want closed", st)
	}
}

func TestCancelledProbeHandsTheLeaseBack(t *testing.T) {
	clock := newClock()
	bs, m := sharedPair(t, clock, 2)
	trip(t, bs[0])
	clock.Advance(10 * time.Second)
	err := bs[1].Execute(context.Background(), func(context.Context) error { return context.Canceled })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if st := m.get("users"); !st.open || st.probeOwner != "" {
		t.Fatalf("shared state = %+v, want still open with the lease released", st)
	}
	wantCalled(t, bs[1]) // the next call probes at once
}

func TestProbeCallIsBoundedByTheLease(t *testing.T) {
	clock := newClock()
	bs, _ := sharedPair(t, clock, 2)
	trip(t, bs[0])
	clock.Advance(10 * time.Second)
	var deadline time.Time
	_ = bs[1].Execute(context.Background(), func(ctx context.Context) error {
		deadline, _ = ctx.Deadline()
		return nil
	})
	if want := clock.Now().Add(DefaultProbeTimeout); !deadline.Equal(want) {
		t.Errorf("probe deadline = %v, want now + ProbeTimeout (%v)", deadline, want)
	}
}

// failingDB is a DynamoDB that is down.
type failingDB struct {
	store.DB
	gets, updates atomic.Int32
}

func (f *failingDB) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.gets.Add(1)
	return nil, errors.New("dynamodb: connection refused")
}

func (f *failingDB) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.updates.Add(1)
	return nil, errors.New("dynamodb: connection refused")
}

func TestSharedStateOutageDegradesToLocal(t *testing.T) {
	var logs bytes.Buffer
	ctx := log.WithContext(context.Background(), slog.New(slog.NewJSONHandler(&logs, nil)))
	clock := newClock()
	db := &failingDB{}
	b := New(Settings{Name: "users", MinRequests: 2, Now: clock.Now}, NewShared(db, "platform"))

	for range 5 {
		if err := b.Execute(ctx, succeed); err != nil {
			t.Fatalf("a DynamoDB outage broke the call path: %v", err)
		}
	}
	if n := db.gets.Load(); n != 1 {
		t.Errorf("%d reads of an unavailable table within SharedRefresh, want 1", n)
	}
	clock.Advance(2 * time.Second)
	for range 5 { // 5 failures after 5 successes: the ratio reaches 0.5
		if err := b.Execute(ctx, fail); !errors.Is(err, errBoom) {
			t.Fatalf("err = %v", err)
		}
	}
	if db.updates.Load() != 1 {
		t.Errorf("%d publish attempts, want 1", db.updates.Load())
	}
	wantOpen(t, b) // this instance's own breaker still protects it
	if !strings.Contains(logs.String(), "shared state unavailable") || !strings.Contains(logs.String(), `"breaker":"users"`) {
		t.Errorf("no warning logged: %s", logs.String())
	}
}
