package tests

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shop-serverless/shop/functions/users"
)

// outsideWindowEdge waits, if need be, until a burst of about span starting
// now stays inside one of the login budget's fixed windows, so that the
// burst meets exactly one budget.
func outsideWindowEdge(t *testing.T, span time.Duration) {
	t.Helper()
	now := time.Now()
	if end := now.Truncate(users.LoginWindow).Add(users.LoginWindow); end.Sub(now) < span {
		t.Logf("waiting %v for the next login window", end.Sub(now))
		time.Sleep(end.Sub(now) + time.Second)
	}
}

// Parallel wrong guesses on one account: no more reach the password check
// (401) than the account's budget admits; the rest are refused (429) with
// Retry-After.
func TestLoginParallelGuessesStayWithinBudget(t *testing.T) {
	email := uniqueEmail(t)
	_, r := register(t, email)
	expect(t, r, http.StatusCreated)

	const n = 24
	outsideWindowEdge(t, 30*time.Second)
	start := time.Now()
	answers := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, answers[i] = login(t, email, "not the password "+strconv.Itoa(i))
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	checked := 0
	for i, a := range answers {
		switch a.Status {
		case http.StatusUnauthorized:
			checked++
		case http.StatusTooManyRequests:
			if s, err := strconv.Atoi(a.Header.Get("Retry-After")); err != nil || s < 1 {
				t.Errorf("guess %d: Retry-After %q", i, a.Header.Get("Retry-After"))
			}
		default:
			t.Errorf("guess %d: status %d: %s", i, a.Status, a.Body)
		}
	}
	t.Logf("%d parallel wrong guesses in %v: %d reached the password check", n, elapsed, checked)
	if checked != users.MaxLoginFailures {
		t.Fatalf("%d guesses reached the password check, want the budget: %d", checked, users.MaxLoginFailures)
	}
}
