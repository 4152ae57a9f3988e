package users

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/runtime"
)

// Login throttling: a progressive delay per account instead of a lock, as
// OWASP's Authentication cheat sheet recommends, and a per-client limit on
// failures across accounts (below) against credential stuffing. A lock that
// anyone can trigger is a denial of service: with the lock this replaced,
// five wrong guesses every fifteen minutes kept any account shut for good.
const (
	// FreeLoginFailures attempts on an account need no wait: typos and a
	// try with an old password cost a real user nothing.
	FreeLoginFailures = 5
	// After those, each attempt must come LoginDelay after the one before:
	// 1 s, 2 s, 4 s, 8 s, 16 s, then MaxLoginDelay.
	firstLoginDelay = time.Second
	// MaxLoginDelay is the most an attacker who keeps an account's delay up
	// can make its owner wait for the next attempt: seconds, never a
	// lockout. It also holds any attacker, from however many addresses, to
	// about two guesses a minute on one account.
	MaxLoginDelay = 30 * time.Second
	// LoginWindow is how long an account's failures count: they are
	// forgotten when the (fixed) window ends, or at its owner's next
	// successful login. An hour, so that free attempts come back within
	// the hour without a success, while an attacker gains only
	// FreeLoginFailures quick guesses per hour from the reset.
	LoginWindow = time.Hour

	// MaxClientLoginFailures wrong passwords, on any accounts, are allowed
	// to one client (loginClient) per ClientLoginWindow: the per-client
	// limit of OWASP's Credential Stuffing cheat sheet. One address trying
	// leaked credentials across many accounts meets no account's delay;
	// this holds it to 100 guesses per 15 minutes, so stuffing needs many
	// addresses, which is what WAF's rate-based rules and IP reputation
	// lists are for. People rarely get a password wrong more than a few
	// times, so even a NAT shared by many stays under 100; and the test
	// suite, under ten failures from 127.0.0.1 a run, can run a dozen
	// times a window against one emulator. The window is fixed: a client
	// can fit up to twice the limit around a window's edge, which is still
	// a limit, and costs no read.
	MaxClientLoginFailures = 100
	ClientLoginWindow      = 15 * time.Minute

	// UserTokenTTL is how long a login's token lives (the most the token
	// library allows for user tokens).
	UserTokenTTL = time.Hour
)

// LoginDelay is how long after the latest attempt an account with failures
// counted this window admits the next one.
func LoginDelay(failures int64) time.Duration {
	if failures < FreeLoginFailures {
		return 0
	}
	d := firstLoginDelay
	for n := int64(FreeLoginFailures); n < failures && d < MaxLoginDelay; n++ {
		d *= 2
	}
	return min(d, MaxLoginDelay)
}

// dummyHash is verified when the email is unknown, so an unknown email costs
// the same argon2id work as a wrong password and timing does not tell them
// apart. It is the hash of a random string nobody knows (same parameters as
// real hashes; computing it at start would add 30 ms to every cold start).
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$vhZ7+bhHKAOv+Othfwh3dQ$J+rjR55DR3foS9qxjsyTcoykX2luNdvylzJE3Ixn1YU"

// LoginRequest is the body of POST /v1/auth/login.
type LoginRequest struct {
	Email    string `json:"email" validate:"required,max=254"`
	Password string `json:"password" validate:"required,max=128"`
}

// LoginResponse is a successful login.
type LoginResponse struct {
	Token     string    `json:"token"`
	TokenType string    `json:"tokenType"`
	ExpiresAt time.Time `json:"expiresAt"`
	UserID    string    `json:"userId"`
}

// IssueUserToken signs a user token for subject valid for ttl and returns
// it with its expiry. The login main adapts shared/servicetoken to it; the
// users package does not import the token library, so the functions that
// never sign (get, update, register) do not pay its start-up cost.
type IssueUserToken func(ctx context.Context, subject string, ttl time.Duration) (token string, expires time.Time, err error)

// Login handles POST /v1/auth/login. Every attempt is counted against the
// account's and the client's budgets before its password is looked at
// (reserveLogin); one a budget does not admit yet gets 429 and Retry-After.
// Unknown email and wrong password get the same 401 body after the same
// hashing work and the same counting.
//
// issue should load its signing key on first use, not at start (that would
// put a network call into every cold start), and follow rotations
// (keystore.SignerSource does both).
func Login(st *Store, issue IssueUserToken) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		var req LoginRequest
		if err := httpapi.Decode(r, &req); err != nil {
			return err
		}
		ctx := r.Context()
		email := NormalizeEmail(req.Email)
		attempt, err := st.reserveLogin(ctx, email, loginClient(r), st.now())
		if err != nil {
			return refusal(err)
		}
		cred, err := st.credentials(ctx, email)
		if err != nil {
			return err
		}
		hash := dummyHash
		if cred.known {
			hash = cred.PasswordHash
		}
		match, err := verifyPassword(req.Password, hash)
		if err != nil {
			return fmt.Errorf("verify password of %s: %w", cred.UserID, err)
		}
		if !match || !cred.known {
			// Nothing to write: the attempt was counted as a failure when
			// it was admitted.
			e := httpapi.Errorf(http.StatusUnauthorized, "email or password is wrong")
			e.Header = http.Header{"WWW-Authenticate": []string{`Bearer realm="shop"`}}
			return e
		}
		if err := st.loginSucceeded(ctx, attempt); err != nil {
			// The attempt stays counted as a failure, which errs on the
			// safe side; a correct password is not refused for it.
			log.FromContext(ctx).WarnContext(ctx, "login succeeded but its failure count was not cleared", "error", err.Error())
		}
		token, expires, err := issue(ctx, cred.UserID, UserTokenTTL)
		if err != nil {
			return fmt.Errorf("issue token: %w", err)
		}
		w.Header().Set("Cache-Control", "no-store")
		httpapi.WriteJSON(w, http.StatusOK, LoginResponse{Token: token, TokenType: "Bearer", ExpiresAt: expires, UserID: cred.UserID})
		return nil
	})
}

// loginClient is the client a login's per-client limit applies to: its
// address (runtime.ClientIP: API Gateway's sourceIp on Lambda), or for IPv6
// its /64, since a single host usually holds a whole /64 and could otherwise
// take a fresh address for every guess.
func loginClient(r *http.Request) string {
	ip := runtime.ClientIP(r)
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		// Not an address (a misconfigured proxy's header): still a key,
		// bounded in length, and valid UTF-8 as DynamoDB requires.
		return strings.ToValidUTF8(ip[:min(len(ip), 64)], "?")
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return addr.String()
	}
	return netip.PrefixFrom(addr, 64).Masked().String()
}

// loginRefused is an attempt a login budget did not admit.
type loginRefused struct {
	byClient   bool          // the client's budget, not the account's
	retryAfter time.Duration // until the budget admits the next attempt
}

func (e *loginRefused) Error() string {
	if e.byClient {
		return fmt.Sprintf("login refused by the client's limit for %v", e.retryAfter)
	}
	return fmt.Sprintf("login refused by the account's delay for %v", e.retryAfter)
}

func (e *loginRefused) Unwrap() error { return ErrLoginThrottled }

// refusal answers a *loginRefused with 429 and Retry-After in whole seconds,
// at least 1; any other error is returned as it is.
func refusal(err error) error {
	var lr *loginRefused
	if !errors.As(err, &lr) {
		return err
	}
	secs := max(int(math.Ceil(lr.retryAfter.Seconds())), 1)
	whose := "for this account"
	if lr.byClient {
		whose = "from your network"
	}
	e := httpapi.Errorf(http.StatusTooManyRequests, "too many failed logins %s; try again in %d seconds", whose, secs)
	e.Header = http.Header{"Retry-After": []string{strconv.Itoa(secs)}}
	e.Err = err
	return e
}
