// Package client is how one shop service calls another over HTTP: every call
// carries a service token, the caller's correlation id and trace header, runs
// under a per-attempt timeout, is retried with jittered backoff when that is
// safe, and goes through the dependency's circuit breaker. Failures come back
// as values a handler can branch on, and HTTPError turns what is left into
// the caller's own response without leaking the dependency's words.
//
//	users, err := client.New(client.Config{Name: "users", BaseURL: usersURL, Tokens: tokens, Breaker: b})
//	err = users.GetJSON(ctx, "/v1/users/"+id, &user) // errors.Is(err, client.ErrNotFound), client.ErrUnavailable...
//
// Only requests that are safe to repeat are retried: GET, HEAD and OPTIONS,
// and any request carrying an Idempotency-Key (PostJSON with a key), whose
// body can be replayed. Retries happen on network errors, attempt timeouts,
// 429, 502, 503 and 504, with full-jitter exponential backoff (50 ms base,
// 1 s cap) or the server's Retry-After, and never past the context's
// deadline. The breaker sees one logical call, all attempts together, as one
// result; a 4xx other than 429 is the dependency working as designed, so it
// counts as a success.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shop-serverless/shop/shared/breaker"
	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/problem"
)

// HeaderTraceID carries the X-Ray trace header to the dependency.
const HeaderTraceID = "X-Amzn-Trace-Id"

// Defaults for zero Config fields.
const (
	DefaultTimeout     = 2 * time.Second
	DefaultMaxAttempts = 3
)

const (
	backoffBase = 50 * time.Millisecond
	backoffCap  = time.Second
	// maxRetryAfter is the longest Retry-After the client waits out. A
	// dependency asking for more is not coming back within a synchronous
	// call, so the caller hears "unavailable" at once instead.
	maxRetryAfter = 5 * time.Second
	// Bodies are read into memory: JSON answers of the shop's APIs are small,
	// and an unbounded read could exhaust a 128 MB function.
	maxBodyBytes      = 4 << 20
	maxErrorBodyBytes = 64 << 10
)

// TokenSource provides the service token sent as "Authorization: Bearer".
// Implementations cache: Token is called once per logical call.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

type staticToken string

func (t staticToken) Token(context.Context) (string, error) { return string(t), nil }

// StaticToken is a TokenSource that always returns tok (tests, local tools).
func StaticToken(tok string) TokenSource { return staticToken(tok) }

// Config configures a Client.
type Config struct {
	// Name is the dependency ("users"): it names the client in errors and logs.
	Name string
	// BaseURL is the dependency's root, e.g. https://api.example.com/users-api;
	// request paths are appended to it.
	BaseURL string
	// Tokens, if set, provides the bearer token.
	Tokens TokenSource
	// Breaker, if set, guards every call (all attempts of one call count once).
	Breaker *breaker.Breaker
	// Timeout bounds each attempt (default 2 s); the context's deadline, when
	// sooner, still wins.
	Timeout time.Duration
	// MaxAttempts bounds attempts of a retryable request (default 3).
	MaxAttempts int
	// HTTPClient sends the requests. Default: a client of its own with a
	// keep-alive transport sized for concurrent calls to one host, which
	// does not follow redirects (a redirect would carry the token, or replay
	// a POST, somewhere this Config never named).
	HTTPClient *http.Client
	// Decorate, if set, is called on every attempt's request just before it
	// is sent: the hook for tracing (a subsegment, a traceparent header).
	Decorate func(ctx context.Context, req *http.Request)
}

// Client calls one dependency. It is safe for concurrent use.
type Client struct {
	name        string
	base        string // BaseURL without a trailing slash
	tokens      TokenSource
	breaker     *breaker.Breaker
	timeout     time.Duration
	maxAttempts int
	http        *http.Client
	decorate    func(context.Context, *http.Request)
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.Name == "" {
		return nil, errors.New("client: Config.Name is required")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client %s: BaseURL %q is not an absolute http(s) URL", cfg.Name, cfg.BaseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client %s: BaseURL %q must not have a query or fragment", cfg.Name, cfg.BaseURL)
	}
	c := &Client{
		name:        cfg.Name,
		base:        strings.TrimRight(cfg.BaseURL, "/"),
		tokens:      cfg.Tokens,
		breaker:     cfg.Breaker,
		timeout:     cfg.Timeout,
		maxAttempts: cfg.MaxAttempts,
		http:        cfg.HTTPClient,
		decorate:    cfg.Decorate,
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxAttempts <= 0 {
		c.maxAttempts = DefaultMaxAttempts
	}
	if c.http == nil {
		c.http = newHTTPClient()
	}
	return c, nil
}

func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// The default of 2 idle connections per host makes concurrent callers
	// (a Knative instance serves many requests at once) pay a new TCP and TLS
	// handshake per call.
	t.MaxIdleConns = 64
	t.MaxIdleConnsPerHost = 32
	t.IdleConnTimeout = 60 * time.Second
	return &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Errors a call can match with errors.Is.
var (
	// ErrNotFound: the dependency answered 404.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the dependency answered 409 or 412.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: no usable answer: 5xx or 429 after the retries, network
	// errors, timeouts, or the breaker refused the call (then the error also
	// holds a *breaker.OpenError).
	ErrUnavailable = errors.New("dependency unavailable")
)

// StatusError is an answer with an error status (>= 400).
type StatusError struct {
	Name   string // the dependency
	Method string
	Path   string // the URL path, never the query (it may hold secrets)
	Status int
	// Problem is the decoded problem+json body, or nil when there was none.
	Problem *problem.Details
	// RetryAfter is the dependency's Retry-After, 0 when absent.
	RetryAfter time.Duration
}

// Error is for logs: it quotes the dependency's problem detail, which the
// caller's own response must never do (see HTTPError).
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s: %s %s: %d %s", e.Name, e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Problem != nil && e.Problem.Detail != "" {
		msg += ": " + e.Problem.Detail
	}
	return msg
}

// Is maps the status to ErrNotFound, ErrConflict or ErrUnavailable.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict || e.Status == http.StatusPreconditionFailed
	case ErrUnavailable:
		return e.Status >= 500 || e.Status == http.StatusTooManyRequests
	}
	return false
}

// GetJSON GETs path (relative to BaseURL, with any query) and decodes a 2xx
// JSON answer into out (nil to discard it). Any other status is a
// *StatusError.
func (c *Client) GetJSON(ctx context.Context, path string, out any) error {
	req, err := c.newRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	return c.doJSON(ctx, req, out)
}

// PostJSON POSTs in as JSON to path and decodes a 2xx answer into out (nil
// to discard it). With an idempotencyKey the request carries it as the
// Idempotency-Key header and is retried like a GET; without one it is sent
// exactly once, since a retry could apply it twice.
func (c *Client) PostJSON(ctx context.Context, path, idempotencyKey string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s: POST %s: encoding request: %w", c.name, path, err)
	}
	req, err := c.newRequest(ctx, http.MethodPost, path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if idempotencyKey != "" {
		req.Header.Set(httpapi.HeaderIdempotencyKey, idempotencyKey)
	}
	return c.doJSON(ctx, req, out)
}

func (c *Client) newRequest(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("%s: path %q must start with /", c.name, path)
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body) // NewRequest sets GetBody for it: replayable
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return nil, fmt.Errorf("%s: %s %s: %w", c.name, method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	return req, nil
}

func (c *Client) doJSON(ctx context.Context, req *http.Request, out any) error {
	resp, err := c.do(ctx, req, true)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.statusError(req, resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s: %s %s: decoding the response: %w", c.name, req.Method, req.URL.Path, err)
	}
	return nil
}

// Do sends req, the general form of GetJSON and PostJSON. A relative URL
// ("/users/42?x=1") is appended to BaseURL, as GetJSON's path is. req is
// retried when that is safe: GET, HEAD or OPTIONS, or any method with an
// Idempotency-Key header, provided a body, if any, can be replayed
// (req.GetBody; NewRequest sets it for bytes, strings and bytes.Buffer
// bodies).
//
// An answer below 400 is returned for the caller to read and close; the
// attempt's timeout keeps running while the body is read. An answer of 400 or
// more is returned as a *StatusError, its body already read and closed.
func (c *Client) Do(ctx context.Context, req *http.Request) (*http.Response, error) {
	return c.do(ctx, req, false)
}

func (c *Client) do(ctx context.Context, req *http.Request, buffer bool) (*http.Response, error) {
	req = req.Clone(ctx) // never change the caller's request
	if !req.URL.IsAbs() {
		u, err := url.Parse(c.base + req.URL.RequestURI())
		if err != nil {
			return nil, fmt.Errorf("%s: %s %s: %w", c.name, req.Method, req.URL.Path, err)
		}
		req.URL = u
	}
	token := ""
	if c.tokens != nil {
		var err error
		if token, err = c.tokens.Token(ctx); err != nil {
			return nil, fmt.Errorf("%s: service token: %w", c.name, err)
		}
	}

	var (
		resp    *http.Response
		callErr error
		called  bool
	)
	call := func(ctx context.Context) error {
		called = true
		resp, callErr = c.attempts(ctx, req, token, buffer)
		if errors.Is(callErr, ErrUnavailable) || errors.Is(callErr, context.Canceled) {
			return callErr // a failure, or (cancelled) no verdict at all
		}
		return nil // an answer, even a 4xx, means the dependency works
	}
	if c.breaker == nil {
		_ = call(ctx)
		return resp, callErr
	}
	if err := c.breaker.Execute(ctx, call); !called {
		return nil, fmt.Errorf("%s: %s %s: %w: %w", c.name, req.Method, req.URL.Path, ErrUnavailable, err)
	}
	return resp, callErr
}

// retryable reports whether req may be sent more than once.
func retryable(req *http.Request) bool {
	switch {
	case req.Body != nil && req.Body != http.NoBody && req.GetBody == nil:
		return false // the body cannot be sent again
	case req.Method == http.MethodGet, req.Method == http.MethodHead, req.Method == http.MethodOptions:
		return true
	}
	return req.Header.Get(httpapi.HeaderIdempotencyKey) != ""
}

// attempts sends req until it gets an answer worth returning, runs out of
// attempts, or would have to wait past the context's deadline.
func (c *Client) attempts(ctx context.Context, req *http.Request, token string, buffer bool) (*http.Response, error) {
	maxAttempts := 1
	if retryable(req) {
		maxAttempts = c.maxAttempts
	}
	for attempt := 0; ; attempt++ {
		resp, o := c.attempt(ctx, req, token, attempt, buffer)
		err := o.err
		if err == nil || !o.retry || attempt+1 >= maxAttempts || ctx.Err() != nil {
			return resp, err
		}
		wait := c.backoff(attempt)
		if o.retryAfter > 0 {
			wait = o.retryAfter
		}
		if wait > maxRetryAfter {
			return nil, err
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
			return nil, err // sleeping would outlive the caller's budget
		}
		log.FromContext(ctx).Info("client: retrying",
			"dependency", c.name, "method", req.Method, "path", req.URL.Path,
			"attempt", attempt+1, "waitMs", wait.Milliseconds(), "error", err.Error())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

// backoff is "full jitter": a uniform wait in [0, min(cap, base*2^attempt)),
// which spreads the retries of many callers hit by the same failure.
func (c *Client) backoff(attempt int) time.Duration {
	ceiling := backoffCap
	if attempt < 10 {
		ceiling = min(backoffCap, backoffBase<<attempt)
	}
	return rand.N(ceiling)
}

// failure is why an attempt got no answer below 400.
type failure struct {
	err        error
	retry      bool          // another attempt may fare better
	retryAfter time.Duration // the dependency's Retry-After, if it sent one
}

// attempt sends one copy of req and returns the answer (below 400), or why
// there was none.
func (c *Client) attempt(ctx context.Context, req *http.Request, token string, n int, buffer bool) (*http.Response, failure) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	r := req.Clone(actx)
	if n > 0 && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			cancel()
			return nil, failure{err: fmt.Errorf("%s: %s %s: replaying the body: %w", c.name, req.Method, req.URL.Path, err)}
		}
		r.Body = body
	}
	if id := httpapi.CorrelationID(ctx); id != "" && r.Header.Get(httpapi.HeaderCorrelationID) == "" {
		r.Header.Set(httpapi.HeaderCorrelationID, id)
	}
	if id := traceID(ctx); id != "" && r.Header.Get(HeaderTraceID) == "" {
		r.Header.Set(HeaderTraceID, id)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if c.decorate != nil {
		c.decorate(actx, r)
	}

	resp, err := c.http.Do(r)
	if err != nil {
		cancel()
		return nil, c.transportError(ctx, req, err)
	}
	if resp.StatusCode >= 400 {
		defer cancel()
		se := c.statusError(req, resp)
		switch se.Status {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return nil, failure{err: se, retry: true, retryAfter: se.RetryAfter}
		}
		return nil, failure{err: se}
	}
	if !buffer {
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
		return resp, failure{}
	}
	// Read the whole answer inside the attempt, so that a connection lost
	// mid-body is retried like any other network error.
	defer cancel()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	resp.Body.Close()
	if err != nil {
		return nil, c.transportError(ctx, req, err)
	}
	if len(body) > maxBodyBytes {
		return nil, failure{err: fmt.Errorf("%s: %s %s: response exceeds %d bytes", c.name, req.Method, req.URL.Path, maxBodyBytes)}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, failure{}
}

// transportError classifies a failure to get an answer. The caller's own
// cancellation is not the dependency's fault and not retried; its deadline
// passing is (the dependency was too slow for the budget) but there is no
// time left to retry; anything else, an attempt timeout included, is.
func (c *Client) transportError(ctx context.Context, req *http.Request, err error) failure {
	where := fmt.Sprintf("%s: %s %s", c.name, req.Method, req.URL.Path)
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // url.Error repeats the full URL, query included
	}
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return failure{err: fmt.Errorf("%s: %w", where, ctx.Err())}
	case ctx.Err() != nil:
		return failure{err: fmt.Errorf("%s: %w: %w", where, ErrUnavailable, ctx.Err())}
	}
	return failure{err: fmt.Errorf("%s: %w: %w", where, ErrUnavailable, err), retry: true}
}

// statusError reads (a bounded part of) an error answer, decodes a problem
// body if there is one, and closes it.
func (c *Client) statusError(req *http.Request, resp *http.Response) *StatusError {
	defer resp.Body.Close()
	se := &StatusError{Name: c.name, Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"))}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes)) // a broken error body still leaves the status
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err == nil &&
		(mt == problem.ContentType || mt == "application/json") {
		var p problem.Details
		if json.Unmarshal(body, &p) == nil && (p.Title != "" || p.Status != 0 || p.Detail != "" || p.Type != "") {
			se.Problem = &p
		}
	}
	return se
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent or bad.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// traceID is the X-Ray trace header of the current invocation, where
// aws-lambda-go puts it.
func traceID(ctx context.Context) string {
	id, _ := ctx.Value("x-amzn-trace-id").(string)
	return id
}

// cancelOnClose ends an attempt's context when the caller is done with the
// body, not before: cancelling earlier would cut the body off.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// HTTPError turns a client error into the caller's own response: what the
// dependency said is never repeated, only logged (Err).
//
//   - ErrUnavailable (or a bare breaker.ErrOpen, from a breaker used without
//     a Client): 503 with Retry-After, in whole seconds rounded up, from the
//     breaker's OpenError, else 1;
//   - any other answer of the dependency (*StatusError): 502;
//   - anything else: 500.
//
// Handle the outcomes that mean something to the caller first, e.g.
// errors.Is(err, client.ErrNotFound) -> "no such user" as a 422; HTTPError is
// for what remains. It returns nil for a nil err.
func HTTPError(err error) *httpapi.Error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, breaker.ErrOpen) {
		retry := time.Second
		var open *breaker.OpenError
		if errors.As(err, &open) && open.RetryAfter > retry {
			retry = open.RetryAfter
		}
		secs := int64((retry + time.Second - 1) / time.Second) // round up: never invite a retry too early
		return &httpapi.Error{
			Status: http.StatusServiceUnavailable,
			Detail: "a service this request depends on is unavailable; retry later",
			Header: http.Header{"Retry-After": []string{strconv.FormatInt(secs, 10)}},
			Err:    err,
		}
	}
	var se *StatusError
	if errors.As(err, &se) {
		return &httpapi.Error{Status: http.StatusBadGateway, Detail: "a service this request depends on failed", Err: err}
	}
	return &httpapi.Error{Status: http.StatusInternalServerError, Title: "Internal Server Error",
		Detail: "an unexpected error occurred", Err: err}
}
