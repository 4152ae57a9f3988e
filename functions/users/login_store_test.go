package users

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/shop-serverless/shop/shared/store"
)

// attempt is one login attempt as the handler makes it, up to the password
// check: admitted reports whether it would reach argon2id.
func attempt(ctx context.Context, st *Store, email string, now time.Time) (admitted bool, err error) {
	_, err = st.reserveLogin(ctx, email, now)
	var refused *loginRefused
	if errors.As(err, &refused) {
		return false, nil
	}
	return err == nil, err
}

// N parallel wrong guesses on one account: exactly the free budget reaches
// the password check, however the requests interleave.
func TestLoginAttemptsParallelStayWithinBudget(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	now := time.Now()
	st.now = func() time.Time { return now }

	const n = 24
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := attempt(ctx, st, "parallel@example.com", now)
			if err != nil {
				t.Error(err)
			}
			if ok {
				admitted.Add(1)
			}
		}()
	}
	wg.Wait()
	if got := admitted.Load(); got != FreeLoginFailures {
		t.Fatalf("%d of %d parallel attempts admitted, want exactly %d", got, n, FreeLoginFailures)
	}
}

func TestLoginDelay(t *testing.T) {
	want := []time.Duration{0, 0, 0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for n, w := range want {
		if got := LoginDelay(int64(n)); got != w {
			t.Errorf("LoginDelay(%d) = %v, want %v", n, got, w)
		}
	}
	if got := LoginDelay(1 << 40); got != MaxLoginDelay {
		t.Errorf("LoginDelay(huge) = %v, want the cap", got)
	}
}

// The account admits FreeLoginFailures attempts at once, then one attempt
// per LoginDelay, measured from the latest admitted one; refused attempts
// do not move it. A success, or the next window, starts afresh.
func TestLoginDelaySchedule(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	start := time.Now().Truncate(LoginWindow).Add(LoginWindow) // a window of its own, in the future
	now := start
	email := "schedule@example.com"

	admit := func(step string) loginAttempt {
		t.Helper()
		a, err := st.reserveLogin(ctx, email, now)
		if err != nil {
			t.Fatalf("%s at +%v: %v, want admitted", step, now.Sub(start), err)
		}
		return a
	}
	refuse := func(step string, retry time.Duration) {
		t.Helper()
		_, err := st.reserveLogin(ctx, email, now)
		var refused *loginRefused
		if !errors.As(err, &refused) || refused.retryAfter != retry {
			t.Fatalf("%s at +%v: err = %v, want a refusal with Retry-After %v", step, now.Sub(start), err, retry)
		}
	}

	for i := range FreeLoginFailures {
		admit("free attempt " + strconv.Itoa(i+1))
	}
	var last loginAttempt
	for n := int64(FreeLoginFailures); n < FreeLoginFailures+8; n++ {
		delay := LoginDelay(n)
		refuse("early attempt", delay)
		now = now.Add(delay - time.Millisecond)
		refuse("attempt a millisecond early", time.Millisecond)
		now = now.Add(time.Millisecond)
		last = admit("attempt after " + delay.String())
	}
	refuse("attempt at the cap", MaxLoginDelay)

	// The window ends before the delay does: the wait ends with it.
	end := start.Add(LoginWindow)
	now = end.Add(-10 * time.Second)
	admit("attempt 10 s before the window ends")
	refuse("attempt right after", 10*time.Second)
	now = end
	for i := range FreeLoginFailures {
		admit("next window, free attempt " + strconv.Itoa(i+1))
	}

	// A success clears the window it was counted in.
	now = end.Add(-time.Second)
	if err := st.loginSucceeded(ctx, last); err != nil {
		t.Fatal(err)
	}
	for i := range FreeLoginFailures {
		admit("after a success, free attempt " + strconv.Itoa(i+1))
	}
}

// lostResponses applies every UpdateItem and then sends it again, as the
// SDK does when a response is lost after DynamoDB applied the write: the
// caller sees only the second answer.
type lostResponses struct{ store.DB }

func (db lostResponses) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if _, err := db.DB.UpdateItem(ctx, in, opts...); err != nil {
		return nil, err
	}
	return db.DB.UpdateItem(ctx, in, opts...)
}

// A reservation whose response was lost and whose request was sent again
// is admitted, and counted once.
func TestLoginReservationRetrySafe(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	now := time.Now()
	lossy := &Store{db: lostResponses{st.db}, table: st.table, now: st.now}
	email := "retry@example.com"

	for i := range FreeLoginFailures {
		if _, err := lossy.reserveLogin(ctx, email, now); err != nil {
			t.Fatalf("attempt %d, response lost and retried: %v", i+1, err)
		}
	}
	item, err := store.Get(ctx, st.db, st.table, accountKey(email, window(now, LoginWindow)))
	if err != nil {
		t.Fatal(err)
	}
	var b budgetItem
	if err := attributevalue.UnmarshalMap(item, &b); err != nil {
		t.Fatal(err)
	}
	if b.Failures != FreeLoginFailures {
		t.Fatalf("%d retried attempts counted %d times", FreeLoginFailures, b.Failures)
	}
}
