package breaker

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/store/storetest"
)

// Integration tests: the conditional writes of shared.go against the
// emulator's DynamoDB, and several Breakers (several "Lambda instances") on
// one platform table.

func platformShared(t *testing.T) *Shared {
	t.Helper()
	db, table := storetest.Table(t, "platform")
	return NewShared(db, table)
}

func TestSharedConditionalWrites(t *testing.T) {
	s := platformShared(t)
	ctx := context.Background()
	now := time.UnixMilli(time.Now().UnixMilli())

	st, err := s.load(ctx, "users")
	if err != nil || st.open {
		t.Fatalf("load of an absent item = %+v, %v; want closed", st, err)
	}
	if _, won, err := s.acquireProbe(ctx, "users", "a", now.Add(time.Second), now); err != nil || won {
		t.Fatalf("acquireProbe on a closed breaker: won = %v, err = %v; want lost", won, err)
	}

	st, err = s.publishOpen(ctx, "users", now.Add(10*time.Second), now)
	if err != nil || !st.open || !st.openUntil.Equal(now.Add(10*time.Second)) {
		t.Fatalf("publishOpen = %+v, %v", st, err)
	}
	// Another instance trips a little earlier on its own clock: it must not
	// shorten the window.
	st, err = s.publishOpen(ctx, "users", now.Add(5*time.Second), now)
	if err != nil || !st.openUntil.Equal(now.Add(10*time.Second)) {
		t.Fatalf("shorter publishOpen = %+v, %v; want the 10 s window kept", st, err)
	}
	if _, won, err := s.acquireProbe(ctx, "users", "a", now.Add(11*time.Second), now.Add(5*time.Second)); err != nil || won {
		t.Fatalf("acquireProbe inside the open window: won = %v, err = %v; want lost", won, err)
	}

	later := now.Add(10 * time.Second)
	st, won, err := s.acquireProbe(ctx, "users", "a", later.Add(3*time.Second), later)
	if err != nil || !won || st.probeOwner != "a" {
		t.Fatalf("acquireProbe after the window: %+v, won = %v, err = %v", st, won, err)
	}
	st, won, err = s.acquireProbe(ctx, "users", "b", later.Add(3*time.Second), later.Add(time.Second))
	if err != nil || won || st.probeOwner != "a" || !st.probeUntil.Equal(later.Add(3*time.Second)) {
		t.Fatalf("second acquireProbe: %+v, won = %v, err = %v; want lost, with a's lease returned", st, won, err)
	}

	// A fresh trip elsewhere during a's probe: a's success must not close.
	st, err = s.publishOpen(ctx, "users", later.Add(12*time.Second), later.Add(2*time.Second))
	if err != nil || st.probeOwner != "" {
		t.Fatalf("publishOpen during a probe = %+v, %v; want the lease dropped", st, err)
	}
	st, err = s.closeProbe(ctx, "users", "a", later.Add(2*time.Second))
	if err != nil || !st.open || !st.openUntil.Equal(later.Add(12*time.Second)) {
		t.Fatalf("closeProbe by a stale prober = %+v, %v; want still open", st, err)
	}

	// A crashed prober's lease is taken over once it expires.
	end := later.Add(12 * time.Second)
	if _, won, _ := s.acquireProbe(ctx, "users", "c", end.Add(3*time.Second), end); !won {
		t.Fatal("c did not get the lease")
	}
	if _, won, _ := s.acquireProbe(ctx, "users", "d", end.Add(6*time.Second), end.Add(3*time.Second)); !won {
		t.Fatal("d did not take over c's expired lease")
	}
	st, err = s.releaseProbe(ctx, "users", "c", end.Add(3*time.Second))
	if err != nil || st.probeOwner != "d" {
		t.Fatalf("releaseProbe by a former owner = %+v, %v; want d's lease kept", st, err)
	}
	st, err = s.closeProbe(ctx, "users", "d", end.Add(4*time.Second))
	if err != nil || st.open || st.probeOwner != "" {
		t.Fatalf("closeProbe by the owner = %+v, %v; want closed", st, err)
	}
	if st, err := s.load(ctx, "users"); err != nil || st.open {
		t.Fatalf("load after close = %+v, %v", st, err)
	}
}

func integrationSettings() Settings {
	return Settings{
		Name: "users", MinRequests: 2, FailureRatio: 0.5,
		OpenTimeout: 1500 * time.Millisecond, SharedRefresh: 500 * time.Millisecond,
	}
}

func TestInstancesShareAnOpenBreaker(t *testing.T) {
	shared := platformShared(t)
	a, b := New(integrationSettings(), shared), New(integrationSettings(), shared)
	ctx := context.Background()
	wantCalled(t, b) // b now holds a fresh "closed"

	trip(t, a)
	tripped := time.Now()
	var calls atomic.Int32
	for {
		err := b.Execute(ctx, func(context.Context) error { calls.Add(1); return nil })
		if errors.Is(err, ErrOpen) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(tripped) > 2*integrationSettings().SharedRefresh {
			t.Fatalf("b still calls the dependency %v after a tripped", time.Since(tripped))
		}
		time.Sleep(20 * time.Millisecond)
	}
	seen := time.Since(tripped)
	if seen > integrationSettings().SharedRefresh+400*time.Millisecond { // a poll interval and a read of slack
		t.Errorf("b saw the open breaker after %v, want within SharedRefresh (%v)", seen, integrationSettings().SharedRefresh)
	}
	n := calls.Load()
	wantOpen(t, b)
	if calls.Load() != n {
		t.Error("b called the dependency after seeing the breaker open")
	}
	if got := b.State(ctx); got != StateOpen {
		t.Errorf("b.State = %s, want open", got)
	}
	t.Logf("b saw the trip after %v", seen)
}

func TestOneProbeFleetWideThenClosedForAll(t *testing.T) {
	shared := platformShared(t)
	var bs []*Breaker
	for range 4 {
		bs = append(bs, New(integrationSettings(), shared))
	}
	for _, b := range bs {
		wantCalled(t, b) // each caches "closed", so two can trip before either sees the other
	}
	trip(t, bs[0])
	trip(t, bs[1]) // two instances tripped: both have their own breaker half-open later
	time.Sleep(integrationSettings().OpenTimeout + 100*time.Millisecond)

	calls, refused, results := probeRace(t, bs, succeed)
	if calls != 1 || refused != 3 {
		t.Fatalf("%d probe calls, %d refusals among 4 instances (%v); want 1 and 3", calls, refused, results)
	}
	time.Sleep(integrationSettings().SharedRefresh)
	for i, b := range bs {
		if got := b.State(context.Background()); got == StateOpen {
			t.Errorf("instance %d: State = %s after the successful probe", i, got)
		}
		wantCalled(t, b)
	}
}

func TestFailedProbeReopensForAll(t *testing.T) {
	shared := platformShared(t)
	a, b := New(integrationSettings(), shared), New(integrationSettings(), shared)
	trip(t, a)
	time.Sleep(integrationSettings().OpenTimeout + 100*time.Millisecond)

	calls, refused, _ := probeRace(t, []*Breaker{a, b}, fail)
	if calls != 1 || refused != 1 {
		t.Fatalf("%d probe calls, %d refusals; want 1 and 1", calls, refused)
	}
	time.Sleep(integrationSettings().SharedRefresh)
	for _, x := range []*Breaker{a, b} {
		oe := wantOpen(t, x)
		if oe.RetryAfter > integrationSettings().OpenTimeout {
			t.Errorf("RetryAfter = %v, want at most the open timeout", oe.RetryAfter)
		}
	}
}

// Each write of the shared state loses its response once, after the
// emulator applied it (storetest.LossyTable), and the SDK retries: each must
// report what it did, and a lease held by another instance must still be
// reported lost.
func TestSharedWritesSurviveLostResponses(t *testing.T) {
	db, table, loss := storetest.LossyTable(t, "platform")
	s := NewShared(db, table)
	ctx := context.Background()
	now := time.UnixMilli(time.Now().UnixMilli())

	loss.Next("UpdateItem")
	st, err := s.publishOpen(ctx, "users", now.Add(10*time.Second), now)
	if err != nil || !st.open || !st.openUntil.Equal(now.Add(10*time.Second)) {
		t.Fatalf("publishOpen, response lost = %+v, %v", st, err)
	}
	loss.WantLost(t, "UpdateItem", 1)

	later := now.Add(10 * time.Second)
	loss.Next("UpdateItem")
	st, won, err := s.acquireProbe(ctx, "users", "a", later.Add(3*time.Second), later)
	if err != nil || !won || st.probeOwner != "a" {
		t.Fatalf("acquireProbe, response lost = %+v, won = %v, %v; want the lease won: nobody else probes until it expires", st, won, err)
	}
	loss.WantLost(t, "UpdateItem", 2)

	loss.Next("UpdateItem")
	st, won, err = s.acquireProbe(ctx, "users", "b", later.Add(4*time.Second), later.Add(time.Second))
	if err != nil || won || st.probeOwner != "a" {
		t.Fatalf("acquireProbe of a's lease, response lost = %+v, won = %v, %v; want lost to a", st, won, err)
	}
	loss.WantLost(t, "UpdateItem", 3)

	loss.Next("UpdateItem")
	st, err = s.releaseProbe(ctx, "users", "a", later.Add(time.Second))
	if err != nil || !st.open || st.probeOwner != "" {
		t.Fatalf("releaseProbe, response lost = %+v, %v; want open, no lease", st, err)
	}
	if _, won, _ := s.acquireProbe(ctx, "users", "c", later.Add(5*time.Second), later.Add(2*time.Second)); !won {
		t.Fatal("c did not get the released lease")
	}
	loss.Next("UpdateItem")
	st, err = s.closeProbe(ctx, "users", "c", later.Add(2*time.Second))
	if err != nil || st.open || st.probeOwner != "" {
		t.Fatalf("closeProbe, response lost = %+v, %v; want closed", st, err)
	}
	loss.WantLost(t, "UpdateItem", 5)
}
