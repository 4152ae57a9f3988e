package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/shared/clocktest"
	"github.com/shop-serverless/shop/shared/store"
	"github.com/shop-serverless/shop/shared/store/storetest"
)

// Integration tests of deduplication against the emulator's DynamoDB. Any
// service table will do: they all have pk, sk and ttl.

func newClaims(t *testing.T, consumer string) (*Claims, store.DB, string) {
	t.Helper()
	db, table := storetest.Table(t, "users")
	return NewClaims(db, table, consumer), db, table
}

func decoded(t *testing.T, structured string) event.Event {
	t.Helper()
	var e event.Event
	if err := json.Unmarshal([]byte(structured), &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// counter counts handler runs.
type counter struct{ n atomic.Int64 }

func (c *counter) handle(context.Context, event.Event) error { c.n.Add(1); return nil }

func TestClaimsRunTheHandlerOncePerEvent(t *testing.T) {
	claims, _, _ := newClaims(t, "notifications-notify")
	ctx := context.Background()
	var runs counter
	e := decoded(t, created(t, "ev-1"))
	for range 3 {
		if err := claims.Once(ctx, e, runs.handle); err != nil {
			t.Fatal(err)
		}
	}
	if runs.n.Load() != 1 {
		t.Fatalf("handler ran %d times for one event delivered three times", runs.n.Load())
	}
	// Another event, the same id from another source, and the same event
	// for another consumer are all new.
	if err := claims.Once(ctx, decoded(t, created(t, "ev-2")), runs.handle); err != nil {
		t.Fatal(err)
	}
	other := decoded(t, created(t, "ev-1"))
	other.SetSource("com.example.elsewhere")
	if err := claims.Once(ctx, other, runs.handle); err != nil {
		t.Fatal(err)
	}
	second := NewClaims(claims.db, claims.table, "orders-user-updated")
	if err := second.Once(ctx, e, runs.handle); err != nil {
		t.Fatal(err)
	}
	if runs.n.Load() != 4 {
		t.Fatalf("handler ran %d times, want 4", runs.n.Load())
	}
}

func TestClaimsReleaseOnFailureSoTheRedeliveryRuns(t *testing.T) {
	claims, _, _ := newClaims(t, "c")
	ctx := context.Background()
	e := decoded(t, created(t, "ev-1"))
	boom := errors.New("boom")
	if err := claims.Once(ctx, e, func(context.Context, event.Event) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("err %v, want the handler's", err)
	}
	var runs counter
	for range 2 {
		if err := claims.Once(ctx, e, runs.handle); err != nil {
			t.Fatal(err)
		}
	}
	if runs.n.Load() != 1 {
		t.Fatalf("after a failure the event ran %d times, want once", runs.n.Load())
	}
}

func TestClaimsConcurrentDuplicateWaitsForRedelivery(t *testing.T) {
	claims, _, _ := newClaims(t, "c")
	ctx := context.Background()
	e := decoded(t, created(t, "ev-1"))
	started, finish := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- claims.Once(ctx, e, func(context.Context, event.Event) error {
			close(started)
			<-finish
			return nil
		})
	}()
	<-started
	var runs counter
	if err := claims.Once(ctx, e, runs.handle); !errors.Is(err, ErrInProgress) {
		t.Fatalf("a duplicate during the first delivery: %v, want ErrInProgress", err)
	}
	close(finish)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := claims.Once(ctx, e, runs.handle); err != nil {
		t.Fatalf("the redelivery after completion: %v", err)
	}
	if runs.n.Load() != 0 {
		t.Fatalf("the duplicate ran the handler %d times", runs.n.Load())
	}
}

func TestClaimsOfADeadDeliveryAreTakenOverWhenItsLockExpires(t *testing.T) {
	claims, _, _ := newClaims(t, "c")
	// The real time: the dying delivery's context has a real deadline.
	clock := clocktest.New(time.Now())
	claims.Now = clock.Now
	e := decoded(t, created(t, "ev-1"))
	// A delivery with 30 s left claims the event and dies.
	deadline := clock.Now().Add(30 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if held, err := claims.claim(ctx, claims.key(e), e.Type(), "dead"); err != nil || held != nil {
		t.Fatalf("claim: %v %v", held, err)
	}
	var runs counter
	clock.Advance(30 * time.Second) // the deadline itself: the lock has a second of slack left
	if err := claims.Once(context.Background(), e, runs.handle); !errors.Is(err, ErrInProgress) {
		t.Fatalf("before the lock expired: %v, want ErrInProgress", err)
	}
	clock.Advance(1100 * time.Millisecond)
	if err := claims.Once(context.Background(), e, runs.handle); err != nil {
		t.Fatalf("after the lock expired: %v", err)
	}
	if runs.n.Load() != 1 {
		t.Fatalf("handler ran %d times, want once", runs.n.Load())
	}
}

func TestClaimsAreForgottenAfterTheirTTL(t *testing.T) {
	claims, _, _ := newClaims(t, "c")
	clock := clocktest.New(time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC))
	claims.Now = clock.Now
	e := decoded(t, created(t, "ev-1"))
	var runs counter
	ctx := context.Background()
	for _, step := range []time.Duration{0, RecordTTL - time.Second, 2 * time.Second} {
		clock.Advance(step)
		if err := claims.Once(ctx, e, runs.handle); err != nil {
			t.Fatal(err)
		}
	}
	// DynamoDB deletes expired items late; until then the claim's ttl is
	// what says it is gone.
	if runs.n.Load() != 2 {
		t.Fatalf("handler ran %d times, want twice: within the TTL and after it", runs.n.Load())
	}
}

func TestClaimSurvivesALostResponse(t *testing.T) {
	db, table, loss := storetest.LossyTable(t, "users")
	claims := NewClaims(db, table, "c")
	e := decoded(t, created(t, "ev-1"))
	var runs counter
	loss.Next("PutItem") // the claim is written, its answer lost: the SDK retries
	if err := claims.Once(context.Background(), e, runs.handle); err != nil {
		t.Fatalf("the retried claim met its own first attempt: %v", err)
	}
	loss.WantLost(t, "PutItem", 1)
	loss.Next("UpdateItem") // and the completion too
	if err := claims.Once(context.Background(), decoded(t, created(t, "ev-2")), runs.handle); err != nil {
		t.Fatal(err)
	}
	loss.WantLost(t, "UpdateItem", 1)
	for _, id := range []string{"ev-1", "ev-2"} {
		if err := claims.Once(context.Background(), decoded(t, created(t, id)), runs.handle); err != nil {
			t.Fatal(err)
		}
	}
	if runs.n.Load() != 2 {
		t.Fatalf("handler ran %d times, want once per event", runs.n.Load())
	}
}

// A redelivered SQS message and a repeated Knative delivery are both
// deduplicated: the pipeline, not just Claims.
func TestConsumerDeduplicatesOnBothPlatforms(t *testing.T) {
	claims, _, _ := newClaims(t, "c")
	h := &recordingHandler{}
	c := &Consumer{Handle: h.handle, Claims: claims}
	batch := sqsBatch(envelope(created(t, "ev-1")), envelope(created(t, "ev-1")))
	resp, err := c.SQS(context.Background(), batch)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("%v %v", resp, err)
	}
	resp, err = c.SQS(context.Background(), events.SQSEvent{Records: batch.Records[:1]})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("%v %v", resp, err)
	}
	base := startServe(t, c.HTTP())
	for range 2 {
		if status := post(t, base, binaryRequest(t, newTestEvent(t, "ev-2"))); status != http.StatusNoContent {
			t.Fatalf("status %d", status)
		}
	}
	if got := h.seenIDs(); len(got) != 2 || got[0] != "ev-1" || got[1] != "ev-2" {
		t.Fatalf("handler saw %v, want each event once", got)
	}
}

// Many concurrent deliveries of one event: exactly one runs the handler,
// the others are told to come back (or, once it completed, skip it).
func TestClaimsUnderConcurrency(t *testing.T) {
	claims, _, _ := newClaims(t, "c")
	e := decoded(t, created(t, "ev-1"))
	var runs counter
	var wg sync.WaitGroup
	var inProgress atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := claims.Once(context.Background(), e, func(ctx context.Context, e event.Event) error {
				time.Sleep(50 * time.Millisecond)
				return runs.handle(ctx, e)
			})
			switch {
			case errors.Is(err, ErrInProgress):
				inProgress.Add(1)
			case err != nil:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if runs.n.Load() != 1 {
		t.Fatalf("handler ran %d times under 8 concurrent deliveries", runs.n.Load())
	}
	if inProgress.Load() == 0 {
		t.Log("every duplicate arrived after completion (no overlap this run)")
	}
}
