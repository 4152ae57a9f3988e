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

// client is the client of the tests that are not about the client limit.
const client = "192.0.2.1"

// attempt is one login attempt as the handler makes it, up to the password
// check: admitted reports whether it would reach argon2id.
func attempt(ctx context.Context, st *Store, email string, now time.Time) (admitted bool, err error) {
	_, err = st.reserveLogin(ctx, email, client, now)
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
		a, err := st.reserveLogin(ctx, email, client, now)
		if err != nil {
			t.Fatalf("%s at +%v: %v, want admitted", step, now.Sub(start), err)
		}
		return a
	}
	refuse := func(step string, retry time.Duration) {
		t.Helper()
		_, err := st.reserveLogin(ctx, email, client, now)
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

// failuresAt is the count in the budget item at key.
func failuresAt(t *testing.T, st *Store, key store.Item) int64 {
	t.Helper()
	item, err := store.Get(context.Background(), st.db, st.table, key)
	if err != nil {
		t.Fatal(err)
	}
	var b budgetItem
	if err := attributevalue.UnmarshalMap(item, &b); err != nil {
		t.Fatal(err)
	}
	return b.Failures
}

// Reservations and refunds whose responses were lost and whose requests
// were sent again take effect once.
func TestLoginReservationRetrySafe(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	now := time.Now()
	lossy := &Store{db: lostResponses{st.db}, table: st.table, now: st.now}
	email := "retry@example.com"
	accountItem, clientItem := accountKey(email, window(now, LoginWindow)), clientKey(client, window(now, ClientLoginWindow))

	var last loginAttempt
	for i := range FreeLoginFailures {
		a, err := lossy.reserveLogin(ctx, email, client, now)
		if err != nil {
			t.Fatalf("attempt %d, response lost and retried: %v", i+1, err)
		}
		last = a
	}
	if a, c := failuresAt(t, st, accountItem), failuresAt(t, st, clientItem); a != FreeLoginFailures || c != FreeLoginFailures {
		t.Fatalf("%d retried attempts counted %d times on the account, %d on the client", FreeLoginFailures, a, c)
	}
	// Refused by the account's delay: the client's count is refunded, once.
	var refused *loginRefused
	if _, err := lossy.reserveLogin(ctx, email, client, now); !errors.As(err, &refused) || refused.byClient {
		t.Fatalf("attempt over the free ones: err = %v, want the account's refusal", err)
	}
	if c := failuresAt(t, st, clientItem); c != FreeLoginFailures {
		t.Fatalf("after a refused attempt the client counts %d, want %d", c, FreeLoginFailures)
	}
	// A success takes its own attempt back from the client, once.
	if err := lossy.loginSucceeded(ctx, last); err != nil {
		t.Fatal(err)
	}
	if c := failuresAt(t, st, clientItem); c != FreeLoginFailures-1 {
		t.Fatalf("after a success the client counts %d, want %d", c, FreeLoginFailures-1)
	}
}

// N parallel wrong guesses from one client on as many accounts: exactly
// MaxClientLoginFailures are admitted, the rest refused by the client's
// limit until its window ends.
func TestLoginClientLimitParallel(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	now := time.Now()

	const n = MaxClientLoginFailures + 20
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := st.reserveLogin(ctx, "stuffed-"+strconv.Itoa(i)+"@example.com", "203.0.113.9", now)
			var refused *loginRefused
			switch {
			case err == nil:
				admitted.Add(1)
			case errors.As(err, &refused):
				if end := window(now, ClientLoginWindow).Add(ClientLoginWindow); !refused.byClient || refused.retryAfter != end.Sub(now) {
					t.Errorf("refusal %+v, want the client's until %v", refused, end)
				}
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := admitted.Load(); got != MaxClientLoginFailures {
		t.Fatalf("%d of %d parallel attempts admitted, want exactly %d", got, n, MaxClientLoginFailures)
	}
	if _, err := st.reserveLogin(ctx, "other@example.com", "203.0.113.10", now); err != nil {
		t.Fatalf("another client: %v", err)
	}
}

// The client's limit counts wrong passwords only: a success gives its own
// attempt back, and an attempt an account's delay refused was never checked;
// but a success does not wipe the client's failures on other accounts.
func TestLoginClientCountsWrongPasswordsOnly(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	now := time.Now().Truncate(ClientLoginWindow).Add(ClientLoginWindow) // a window of its own
	const stuffer = "203.0.113.20"

	for i := range MaxClientLoginFailures - 1 {
		if _, err := st.reserveLogin(ctx, "wrong-"+strconv.Itoa(i)+"@example.com", stuffer, now); err != nil {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	// Its own account, logged into five times.
	for i := range 5 {
		a, err := st.reserveLogin(ctx, "own@example.com", stuffer, now)
		if err != nil {
			t.Fatalf("login %d to its own account: %v", i+1, err)
		}
		if err := st.loginSucceeded(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	// An account someone else has put on delay, flooded.
	for range FreeLoginFailures {
		if _, err := st.reserveLogin(ctx, "delayed@example.com", "198.51.100.1", now); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		var refused *loginRefused
		if _, err := st.reserveLogin(ctx, "delayed@example.com", stuffer, now); !errors.As(err, &refused) || refused.byClient {
			t.Fatalf("flood %d on a delayed account: err = %v, want the account's refusal", i+1, err)
		}
	}
	// One wrong password left in the budget, then none.
	if _, err := st.reserveLogin(ctx, "last@example.com", stuffer, now); err != nil {
		t.Fatalf("last failure in the budget: %v", err)
	}
	var refused *loginRefused
	if _, err := st.reserveLogin(ctx, "over@example.com", stuffer, now); !errors.As(err, &refused) || !refused.byClient {
		t.Fatalf("over the budget: err = %v, want the client's refusal", err)
	}
}
