package users

import (
	"context"
	"errors"
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
	if got := admitted.Load(); got != MaxLoginFailures {
		t.Fatalf("%d of %d parallel attempts admitted, want exactly %d", got, n, MaxLoginFailures)
	}
}

// The budget holds MaxLoginFailures attempts per window, whatever their
// outcome until a success clears it; the next window starts afresh.
func TestLoginBudgetWindow(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	now := time.Now()
	email := "window@example.com"

	var last loginAttempt
	for i := range MaxLoginFailures {
		a, err := st.reserveLogin(ctx, email, now)
		if err != nil {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
		last = a
	}
	_, err := st.reserveLogin(ctx, email, now)
	var refused *loginRefused
	if !errors.As(err, &refused) || refused.retryAfter <= 0 || refused.retryAfter > LoginWindow {
		t.Fatalf("attempt over the budget: err = %v, want a refusal inside the window", err)
	}
	if _, err := st.reserveLogin(ctx, email, window(now, LoginWindow).Add(LoginWindow)); err != nil {
		t.Fatalf("next window: %v", err)
	}
	// A success clears the window it was counted in.
	if err := st.loginSucceeded(ctx, last); err != nil {
		t.Fatal(err)
	}
	for i := range MaxLoginFailures {
		if _, err := st.reserveLogin(ctx, email, now); err != nil {
			t.Fatalf("after a success, attempt %d: %v", i+1, err)
		}
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

	for i := range MaxLoginFailures {
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
	if b.Failures != MaxLoginFailures {
		t.Fatalf("%d retried attempts counted %d times", MaxLoginFailures, b.Failures)
	}
}
