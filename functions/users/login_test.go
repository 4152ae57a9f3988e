package users

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/clocktest"
)

// loginFixture is the login handler on a fresh table with one registered
// user, whose password is "right password", and a fake clock.
type loginFixture struct {
	h     http.Handler
	st    *Store
	clock *clocktest.Clock
	email string
}

func newLoginFixture(t *testing.T) loginFixture {
	t.Helper()
	st := newTestStore(t)
	// At the start of a window of its own; in the future, so that the
	// emulator expires none of the test's items.
	clock := clocktest.New(time.Now().Truncate(LoginWindow).Add(LoginWindow))
	st.now = clock.Now
	hash, err := hashPassword("right password")
	if err != nil {
		t.Fatal(err)
	}
	email := "victim@example.com"
	if _, err := st.Create(context.Background(), User{ID: uuid.NewString(), Email: email, Name: "V"}, hash); err != nil {
		t.Fatal(err)
	}
	issue := func(_ context.Context, subject string, ttl time.Duration) (string, time.Time, error) {
		return "token-for-" + subject, clock.Now().Add(ttl), nil
	}
	return loginFixture{h: Login(st, issue), st: st, clock: clock, email: email}
}

// post posts a login from client (an IP address).
func (f loginFixture) post(email, password, client string) *httptest.ResponseRecorder {
	body, _ := json.Marshal(LoginRequest{Email: email, Password: password})
	req := httptest.NewRequest(http.MethodPost, "/v1/auth/login", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = client + ":40000"
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

// login posts a login from client and returns the status and, for a 429,
// its Retry-After; any answer but 200, 401 and 429 fails the test.
func (f loginFixture) login(t *testing.T, email, password, client string) (int, time.Duration) {
	t.Helper()
	rec := f.post(email, password, client)
	var retry time.Duration
	switch rec.Code {
	case http.StatusOK, http.StatusUnauthorized:
	case http.StatusTooManyRequests:
		secs, err := strconv.Atoi(rec.Header().Get("Retry-After"))
		if err != nil || secs < 1 {
			t.Fatalf("429 with Retry-After %q", rec.Header().Get("Retry-After"))
		}
		retry = time.Duration(secs) * time.Second
	default:
		t.Fatalf("login answered %d: %s", rec.Code, rec.Body)
	}
	return rec.Code, retry
}

// An attacker who keeps failing on an account, from as many addresses as it
// likes, for as long as it likes, never makes its owner wait more than
// MaxLoginDelay: there is no lock to hold shut.
func TestLoginAttackerCannotLockOwnerOut(t *testing.T) {
	f := newLoginFixture(t)
	attacker := func(i int) string { return "198.51.100." + strconv.Itoa(i%250+1) }

	// Every time the account admits an attempt, the attacker spends it on a
	// wrong guess, and floods it in between: 60 admitted guesses, each
	// followed by refused ones.
	for i := range 60 {
		status, retry := f.login(t, f.email, "guess "+strconv.Itoa(i), attacker(i))
		for status == http.StatusTooManyRequests {
			if retry > MaxLoginDelay {
				t.Fatalf("guess %d: Retry-After %v, more than the cap %v", i, retry, MaxLoginDelay)
			}
			// The flood while the account waits changes nothing.
			if s, r2 := f.login(t, f.email, "flood", attacker(i+1)); s != http.StatusTooManyRequests || r2 > retry {
				t.Fatalf("guess %d: flood answered %d with Retry-After %v, want 429 within %v", i, s, r2, retry)
			}
			f.clock.Advance(retry)
			status, retry = f.login(t, f.email, "guess "+strconv.Itoa(i), attacker(i))
		}
		if status != http.StatusUnauthorized {
			t.Fatalf("guess %d: status %d, want 401", i, status)
		}
	}

	// The owner arrives right after the attacker's latest failure: told to
	// wait at most the cap, and let in after that wait.
	status, retry := f.login(t, f.email, "right password", "203.0.113.7")
	if status != http.StatusTooManyRequests || retry > MaxLoginDelay {
		t.Fatalf("owner after the attack: %d, Retry-After %v; want 429 within %v", status, retry, MaxLoginDelay)
	}
	f.clock.Advance(retry)
	if status, _ := f.login(t, f.email, "right password", "203.0.113.7"); status != http.StatusOK {
		t.Fatalf("owner after waiting %v: status %d, want 200", retry, status)
	}
	// The success cleared the account: typos are free again.
	for i := range FreeLoginFailures {
		if status, _ := f.login(t, f.email, "typo", "203.0.113.7"); status != http.StatusUnauthorized {
			t.Fatalf("typo %d after a success: status %d, want 401", i+1, status)
		}
	}
}

// An unknown email is counted and answered exactly as a registered one
// with a wrong password, throttling included: the answers do not tell
// which emails have accounts.
func TestLoginUnknownEmailAnsweredAlike(t *testing.T) {
	f := newLoginFixture(t)
	answer := func(email string, i int) string {
		rec := f.post(email, "wrong password", "192.0.2."+strconv.Itoa(i+1))
		var p struct{ Type, Title, Detail string }
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatalf("%s: %v: %s", email, err, rec.Body)
		}
		return fmt.Sprintf("%d %+v Retry-After=%q WWW-Authenticate=%q", rec.Code, p, rec.Header().Get("Retry-After"), rec.Header().Get("WWW-Authenticate"))
	}
	seen := map[int]bool{}
	for i := range 24 {
		known, unknown := answer(f.email, i), answer("nobody@example.com", i)
		if known != unknown {
			t.Fatalf("attempt %d: registered email answered %s, unknown email %s", i+1, known, unknown)
		}
		code, _ := strconv.Atoi(known[:3])
		seen[code] = true
		f.clock.Advance(1500 * time.Millisecond)
	}
	if !seen[http.StatusUnauthorized] || !seen[http.StatusTooManyRequests] {
		t.Fatalf("answers seen: %v; want both 401 and 429 compared", seen)
	}
}

func TestLoginClient(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"203.0.113.7:40000", "203.0.113.7"},
		{"[::ffff:203.0.113.7]:40000", "203.0.113.7"},
		// One host usually holds a whole /64: every address in it is one client.
		{"[2001:db8:1:2:3:4:5:6]:40000", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2::beef]:40000", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:40000", "fe80::/64"},
		// Lambda's adapter puts API Gateway's sourceIp there without a port.
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"203.0.113.7", "203.0.113.7"},
		{"not an address", "not an address"},
		{strings.Repeat("x", 300), strings.Repeat("x", 64)},
		{strings.Repeat("x", 63) + "é", strings.Repeat("x", 63) + "?"},
		{"\xff\xfe", "?"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, "/v1/auth/login", nil)
		r.RemoteAddr = tt.remote
		if got := loginClient(r); got != tt.want {
			t.Errorf("loginClient(%q) = %q, want %q", tt.remote, got, tt.want)
		}
	}
}
