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
// now stays inside one fixed login window of length window, so that the
// burst meets one budget.
func outsideWindowEdge(t *testing.T, window, span time.Duration) {
	t.Helper()
	now := time.Now()
	if end := now.Truncate(window).Add(window); end.Sub(now) < span {
		t.Logf("waiting %v for the next login window", end.Sub(now))
		time.Sleep(end.Sub(now) + time.Second)
	}
}

// admittedWithin is the most attempts a fresh account admits in d: the free
// ones at once, then one per LoginDelay.
func admittedWithin(d time.Duration) int {
	n, elapsed := int64(0), time.Duration(0)
	for {
		elapsed += users.LoginDelay(n)
		if elapsed > d {
			return int(n)
		}
		n++
	}
}

func retryAfter(t *testing.T, r response) time.Duration {
	t.Helper()
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || secs < 1 || time.Duration(secs)*time.Second > users.MaxLoginDelay {
		t.Fatalf("429 with Retry-After %q, want 1..%d seconds", r.Header.Get("Retry-After"), int(users.MaxLoginDelay.Seconds()))
	}
	return time.Duration(secs) * time.Second
}

// Parallel wrong guesses on one account: no more reach the password check
// (401) than the account's budget admits in the time they took; the rest
// are refused (429) with Retry-After. The owner is then let in after at
// most one wait.
func TestLoginParallelGuessesStayWithinBudget(t *testing.T) {
	t.Parallel()
	email := uniqueEmail(t)
	_, r := register(t, email)
	expect(t, r, http.StatusCreated)

	const n = 24
	outsideWindowEdge(t, users.LoginWindow, time.Minute)
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
			expect(t, a, http.StatusTooManyRequests)
			retryAfter(t, a)
		default:
			t.Fatalf("guess %d: status %d: %s", i, a.Status, a.Body)
		}
	}
	allowed := admittedWithin(elapsed)
	t.Logf("%d parallel wrong guesses in %v: %d reached the password check (budget for that time: %d)", n, elapsed, checked, allowed)
	if checked < users.FreeLoginFailures || checked > allowed {
		t.Fatalf("%d guesses reached the password check, want %d..%d", checked, users.FreeLoginFailures, allowed)
	}

	// Not a lock: the right password gets in after at most one wait.
	_, r = login(t, email, "correct horse 1")
	if r.Status == http.StatusTooManyRequests {
		wait := retryAfter(t, r)
		t.Logf("owner told to wait %v", wait)
		time.Sleep(wait)
		_, r = login(t, email, "correct horse 1")
	}
	expect(t, r, http.StatusOK)
}

// An unknown email is answered exactly as a wrong password.
func TestLoginUnknownEmailLooksLikeWrongPassword(t *testing.T) {
	t.Parallel()
	email := uniqueEmail(t)
	_, r := register(t, email)
	expect(t, r, http.StatusCreated)

	_, wrong := login(t, email, "not the password")
	pw := expect(t, wrong, http.StatusUnauthorized)
	_, unknown := login(t, "nobody-"+email, "not the password")
	pu := expect(t, unknown, http.StatusUnauthorized)
	if pw.Detail != pu.Detail || pw.Title != pu.Title || pw.Type != pu.Type {
		t.Fatalf("unknown email and wrong password must look alike: %+v vs %+v", pw, pu)
	}
	if a, b := wrong.Header.Get("WWW-Authenticate"), unknown.Header.Get("WWW-Authenticate"); a != b || a == "" {
		t.Fatalf("WWW-Authenticate %q vs %q", a, b)
	}
}
