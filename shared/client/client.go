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
// deadline. Each attempt is an X-Ray subsegment named after the dependency
// (Config.Name), whose trace header the request carries, so that the
// dependency's span continues the caller's trace. The breaker sees one logical call, all attempts together, as one
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
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shop-serverless/shop/shared/breaker"
	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/tracing"
)

// HeaderTraceID carries the X-Ray trace header to the dependency.
const HeaderTraceID = tracing.HeaderName

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
	// is sent, inside the attempt's subsegment (its ctx carries it).
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
		Transport:     tracing.Transport(t),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
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
