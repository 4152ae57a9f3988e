package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/breaker"
	"github.com/shop-serverless/shop/shared/client"
	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/problem"
	"github.com/shop-serverless/shop/shared/tracing"
	"github.com/shop-serverless/shop/shared/tracing/tracingtest"
)

// server is an httptest server (on 127.0.0.1) answering with the handler
// for each successive hit; the last handler answers every hit after it.
type server struct {
	*httptest.Server
	hits atomic.Int32
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method string
	header http.Header
	body   string
}

func newServer(t *testing.T, handlers ...http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(s.hits.Add(1))
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, recorded{method: r.Method, header: r.Header.Clone(), body: string(body)})
		s.mu.Unlock()
		handlers[min(n, len(handlers))-1](w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.reqs...)
}

func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

func jsonBody(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

func newClient(t *testing.T, baseURL string, mod func(*client.Config)) *client.Client {
	t.Helper()
	cfg := client.Config{Name: "users", BaseURL: baseURL, Timeout: time.Second}
	if mod != nil {
		mod(&cfg)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewChecksConfig(t *testing.T) {
	for _, cfg := range []client.Config{
		{BaseURL: "http://127.0.0.1:1"},
		{Name: "users", BaseURL: "127.0.0.1:1"},
		{Name: "users", BaseURL: "ftp://127.0.0.1/"},
		{Name: "users", BaseURL: "http://127.0.0.1/?x=1"},
	} {
		if _, err := client.New(cfg); err == nil {
			t.Errorf("New(%+v): want an error", cfg)
		}
	}
}

func TestRetriesOnlyWhatIsSafeToRepeat(t *testing.T) {
	tests := []struct {
		name     string
		call     func(c *client.Client) error
		wantHits int32
	}{
		{"GET", func(c *client.Client) error { return c.GetJSON(context.Background(), "/users/1", nil) }, 3},
		{"POST with an idempotency key", func(c *client.Client) error {
			return c.PostJSON(context.Background(), "/orders", "key-1", map[string]int{"qty": 2}, nil)
		}, 3},
		{"POST without a key", func(c *client.Client) error {
			return c.PostJSON(context.Background(), "/orders", "", map[string]int{"qty": 2}, nil)
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, status(503), status(502), jsonBody(200, `{}`))
			err := tt.call(newClient(t, srv.URL, nil))
			if got := srv.hits.Load(); got != tt.wantHits {
				t.Errorf("%d hits, want %d", got, tt.wantHits)
			}
			if tt.wantHits == 3 && err != nil {
				t.Errorf("err = %v after a successful retry", err)
			}
			if tt.wantHits == 1 && !errors.Is(err, client.ErrUnavailable) {
				t.Errorf("err = %v, want ErrUnavailable", err)
			}
			for _, r := range srv.requests() {
				if r.method == http.MethodPost && r.body != `{"qty":2}` {
					t.Errorf("attempt sent body %q, want the whole body every time", r.body)
				}
			}
		})
	}
}

func TestRetriesOnlyTransientStatuses(t *testing.T) {
	for code, wantHits := range map[int]int32{429: 2, 502: 2, 503: 2, 504: 2, 500: 1, 501: 1, 400: 1, 404: 1} {
		srv := newServer(t, status(code), jsonBody(200, `{}`))
		_ = newClient(t, srv.URL, nil).GetJSON(context.Background(), "/x", nil)
		if got := srv.hits.Load(); got != wantHits {
			t.Errorf("status %d: %d hits, want %d", code, got, wantHits)
		}
	}
}

func TestRetriesNetworkErrorsAndAttemptTimeouts(t *testing.T) {
	hangUp := func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}
	slow := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}
	srv := newServer(t, hangUp, slow, jsonBody(200, `{"id":"1"}`))
	c := newClient(t, srv.URL, func(cfg *client.Config) { cfg.Timeout = 100 * time.Millisecond })
	var out struct{ ID string }
	if err := c.GetJSON(context.Background(), "/users/1", &out); err != nil || out.ID != "1" {
		t.Fatalf("GetJSON = %+v, %v; want success on the third attempt", out, err)
	}
	if got := srv.hits.Load(); got != 3 {
		t.Errorf("%d hits, want 3", got)
	}
}

func TestBackoffNeverOutlivesTheDeadline(t *testing.T) {
	t.Run("jittered backoff", func(t *testing.T) {
		srv := newServer(t, status(503))
		c := newClient(t, srv.URL, func(cfg *client.Config) { cfg.MaxAttempts = 1000 })
		ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := c.GetJSON(ctx, "/x", nil)
		if !errors.Is(err, client.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		if elapsed := time.Since(start); elapsed > 400*time.Millisecond {
			t.Errorf("returned after %v, past the 400ms deadline", elapsed)
		}
		if srv.hits.Load() < 2 {
			t.Errorf("%d hits: want some retries inside the deadline", srv.hits.Load())
		}
	})
	t.Run("Retry-After past the deadline", func(t *testing.T) {
		srv := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(503)
		})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		err := newClient(t, srv.URL, nil).GetJSON(ctx, "/x", nil)
		var se *client.StatusError
		if !errors.As(err, &se) || se.RetryAfter != 2*time.Second {
			t.Fatalf("err = %v, want a *StatusError with RetryAfter 2s", err)
		}
		if elapsed := time.Since(start); elapsed > 200*time.Millisecond || srv.hits.Load() != 1 {
			t.Errorf("%d hits in %v: want one, answered at once rather than waiting past the deadline", srv.hits.Load(), elapsed)
		}
	})
	// Found by FuzzParseRetryAfter: 18446744074 s, multiplied out in
	// nanoseconds, wrapped to 0.29 s, and the client retried at once.
	t.Run("an enormous Retry-After is given up on, not wrapped into a short one", func(t *testing.T) {
		srv := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "18446744074")
			w.WriteHeader(503)
		}, jsonBody(200, `{}`))
		err := newClient(t, srv.URL, nil).GetJSON(context.Background(), "/x", nil)
		var se *client.StatusError
		if !errors.As(err, &se) || se.RetryAfter < 24*time.Hour || srv.hits.Load() != 1 {
			t.Fatalf("err = %v after %d hits, want the 503 at once with its Retry-After", err, srv.hits.Load())
		}
	})
	t.Run("Retry-After within the deadline", func(t *testing.T) {
		srv := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(429)
		}, jsonBody(200, `{}`))
		start := time.Now()
		if err := newClient(t, srv.URL, nil).GetJSON(context.Background(), "/x", nil); err != nil {
			t.Fatal(err)
		}
		if elapsed := time.Since(start); elapsed < time.Second {
			t.Errorf("retried after %v, want the 1 s the server asked for", elapsed)
		}
	})
}

func TestErrorsAreTyped(t *testing.T) {
	problem := `{"type":"about:blank","title":"Not Found","status":404,"detail":"no user 42","requestId":"r1",` +
		`"errors":[{"field":"id","message":"unknown"}]}`
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    error
		problem bool
	}{
		{"404 problem", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(404)
			_, _ = io.WriteString(w, problem)
		}, client.ErrNotFound, true},
		{"404 text", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "nope", 404) }, client.ErrNotFound, false},
		{"409", jsonBody(409, `{"title":"Conflict","status":409}`), client.ErrConflict, true},
		{"412", status(412), client.ErrConflict, false},
		{"500", status(500), client.ErrUnavailable, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.handler)
			err := newClient(t, srv.URL, nil).GetJSON(context.Background(), "/users/42?secret=s", nil)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var se *client.StatusError
			if !errors.As(err, &se) {
				t.Fatalf("err = %T, want a *StatusError", err)
			}
			if se.Name != "users" || se.Method != "GET" || se.Path != "/users/42" {
				t.Errorf("StatusError = %+v", se)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q quotes the query", err)
			}
			if (se.Problem != nil) != tt.problem {
				t.Fatalf("Problem = %+v, want decoded: %v", se.Problem, tt.problem)
			}
			if tt.name == "404 problem" {
				p := se.Problem
				if p.Detail != "no user 42" || p.Status != 404 || p.RequestID != "r1" || len(p.Errors) != 1 || p.Errors[0].Field != "id" {
					t.Errorf("Problem = %+v", p)
				}
			}
		})
	}
}

func TestBreakerOpensAndThenFailsFast(t *testing.T) {
	srv := newServer(t, status(500))
	b := breaker.New(breaker.Settings{Name: "users", MinRequests: 2, OpenTimeout: time.Minute}, nil)
	c := newClient(t, srv.URL, func(cfg *client.Config) { cfg.Breaker = b })
	ctx := context.Background()
	for range 2 {
		if err := c.GetJSON(ctx, "/x", nil); !errors.Is(err, client.ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
	}
	err := c.GetJSON(ctx, "/x", nil)
	var open *breaker.OpenError
	if !errors.Is(err, client.ErrUnavailable) || !errors.As(err, &open) {
		t.Fatalf("err = %v, want ErrUnavailable wrapping a *breaker.OpenError", err)
	}
	if got := srv.hits.Load(); got != 2 {
		t.Errorf("%d hits, want 2: the open breaker must not reach the server", got)
	}

	he := client.HTTPError(err)
	if he.Status != 503 || he.Header.Get("Retry-After") != "60" {
		t.Errorf("HTTPError = %d, Retry-After %q; want 503 and 60", he.Status, he.Header.Get("Retry-After"))
	}
}

func TestRetriesCountOnceAndClientErrorsNotAtAllForTheBreaker(t *testing.T) {
	// A call whose retries succeed is one success, however many attempts
	// failed; 404s are answers, not failures.
	srv := newServer(t, status(503), status(503), status(404))
	b := breaker.New(breaker.Settings{Name: "users", MinRequests: 1}, nil)
	c := newClient(t, srv.URL, func(cfg *client.Config) { cfg.Breaker = b })
	for range 5 {
		if err := c.GetJSON(context.Background(), "/x", nil); !errors.Is(err, client.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	}
	if got := b.State(context.Background()); got != breaker.StateClosed {
		t.Errorf("breaker %s after 404s, want closed", got)
	}
}

func TestHTTPErrorNeverRepeatsTheDependency(t *testing.T) {
	leaky := `{"title":"Internal","status":500,"detail":"db password=hunter2"}`
	srv := newServer(t, jsonBody(500, leaky))
	err := newClient(t, srv.URL, nil).GetJSON(context.Background(), "/x", nil)
	tests := []struct {
		err        error
		wantStatus int
		retryAfter string
	}{
		{err, 503, "1"},
		{&client.StatusError{Name: "users", Status: 400, Problem: &problem.Details{Detail: "password=hunter2"}}, 502, ""},
		{errors.New("token source: password=hunter2"), 500, ""},
		{&breaker.OpenError{Name: "provider", RetryAfter: 2300 * time.Millisecond}, 503, "3"}, // a breaker used without a client
	}
	for _, tt := range tests {
		he := client.HTTPError(tt.err)
		if he.Status != tt.wantStatus || he.Header.Get("Retry-After") != tt.retryAfter {
			t.Errorf("HTTPError(%v) = %d, Retry-After %q; want %d, %q", tt.err, he.Status, he.Header.Get("Retry-After"), tt.wantStatus, tt.retryAfter)
		}
		rec := httptest.NewRecorder()
		httpapi.WriteError(rec, httptest.NewRequest("GET", "/orders", nil), he)
		if strings.Contains(rec.Body.String(), "hunter2") {
			t.Errorf("response repeats the dependency: %s", rec.Body)
		}
	}
	if client.HTTPError(nil) != nil {
		t.Error("HTTPError(nil) != nil")
	}
}

func TestRetryAfterFromTheBreakerRoundsUp(t *testing.T) {
	srv := newServer(t, status(503))
	b := breaker.New(breaker.Settings{Name: "users", MinRequests: 1, OpenTimeout: 2300 * time.Millisecond}, nil)
	c := newClient(t, srv.URL, func(cfg *client.Config) { cfg.Breaker = b; cfg.MaxAttempts = 1 })
	_ = c.GetJSON(context.Background(), "/x", nil)
	he := client.HTTPError(c.GetJSON(context.Background(), "/x", nil))
	if he.Header.Get("Retry-After") != "3" {
		t.Errorf("Retry-After = %q, want 3 (2.3 s rounded up)", he.Header.Get("Retry-After"))
	}
}

func TestPropagatesIdentityAndContext(t *testing.T) {
	srv := newServer(t, jsonBody(200, `{}`))
	var decorated atomic.Bool
	c := newClient(t, srv.URL+"/api/", func(cfg *client.Config) {
		cfg.Tokens = client.StaticToken("tok-1")
		cfg.Decorate = func(_ context.Context, r *http.Request) { decorated.Store(true); r.Header.Set("Traceparent", "00-x") }
	})
	d := tracingtest.StartDaemon(t)
	ctx := httpapi.WithCorrelationID(context.Background(), "corr-1")
	ctx, span := tracing.Invocation(ctx, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	if err := c.PostJSON(ctx, "/orders", "idem-1", map[string]string{"a": "b"}, nil); err != nil {
		t.Fatal(err)
	}
	span.End(nil)
	// The dependency continues the trace as a child of the call's subsegment.
	call := tracingtest.Named(t, d.Wait(2), "users")
	h := srv.requests()[0].header
	for name, want := range map[string]string{
		"Authorization":    "Bearer tok-1",
		"X-Correlation-Id": "corr-1",
		"X-Amzn-Trace-Id":  "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=" + call.Str("id") + ";Sampled=1",
		"Idempotency-Key":  "idem-1",
		"Content-Type":     "application/json",
		"Traceparent":      "00-x",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if !decorated.Load() {
		t.Error("Decorate not called")
	}

	// Nothing to propagate: no empty headers.
	if err := newClient(t, srv.URL, nil).GetJSON(context.Background(), "/x", nil); err != nil {
		t.Fatal(err)
	}
	h = srv.requests()[1].header
	for _, name := range []string{"Authorization", "X-Correlation-Id", "X-Amzn-Trace-Id", "Idempotency-Key"} {
		if _, ok := h[name]; ok {
			t.Errorf("%s sent without a value to send", name)
		}
	}
}

type failingTokens struct{}

func (failingTokens) Token(context.Context) (string, error) { return "", errors.New("no signing key") }

func TestTokenFailureIsNotTheDependencysFault(t *testing.T) {
	srv := newServer(t, jsonBody(200, `{}`))
	b := breaker.New(breaker.Settings{Name: "users", MinRequests: 1}, nil)
	c := newClient(t, srv.URL, func(cfg *client.Config) { cfg.Tokens = failingTokens{}; cfg.Breaker = b })
	err := c.GetJSON(context.Background(), "/x", nil)
	if err == nil || errors.Is(err, client.ErrUnavailable) || srv.hits.Load() != 0 {
		t.Fatalf("err = %v, hits %d; want a plain error and no call", err, srv.hits.Load())
	}
	if b.State(context.Background()) != breaker.StateClosed {
		t.Error("a token failure counted against the dependency")
	}
	if he := client.HTTPError(err); he.Status != 500 {
		t.Errorf("HTTPError status = %d, want 500", he.Status)
	}
}

func TestDoReturnsAStreamableResponse(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, r.URL.RequestURI())
	})
	c := newClient(t, srv.URL+"/api", nil)
	req, err := http.NewRequest(http.MethodGet, "/things?page=2", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body) // after Do returned: the attempt's context must still be alive
	resp.Body.Close()
	if err != nil || string(body) != "/api/things?page=2" {
		t.Errorf("body = %q, %v; want the relative URL appended to BaseURL", body, err)
	}
	if req.URL.Host != "" {
		t.Error("Do changed the caller's request")
	}
}

func TestCallerCancellationIsNotUnavailability(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	b := breaker.New(breaker.Settings{Name: "users", MinRequests: 1}, nil)
	c := newClient(t, srv.URL, func(cfg *client.Config) { cfg.Breaker = b })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	err := c.GetJSON(ctx, "/x", nil)
	if !errors.Is(err, context.Canceled) || errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("err = %v, want context.Canceled only", err)
	}
	if srv.hits.Load() != 1 || b.State(context.Background()) != breaker.StateClosed {
		t.Errorf("hits %d, breaker %s: want one attempt and no verdict", srv.hits.Load(), b.State(context.Background()))
	}
}

func TestDecodesJSONAnswers(t *testing.T) {
	srv := newServer(t, jsonBody(201, `{"id":"o1","total":1250}`))
	var out struct {
		ID    string `json:"id"`
		Total int    `json:"total"`
	}
	if err := newClient(t, srv.URL, nil).PostJSON(context.Background(), "/orders", "k", json.RawMessage(`{}`), &out); err != nil {
		t.Fatal(err)
	}
	if out.ID != "o1" || out.Total != 1250 {
		t.Errorf("out = %+v", out)
	}
}

func TestEveryAttemptIsASubsegment(t *testing.T) {
	d := tracingtest.StartDaemon(t)
	srv := newServer(t, status(503), jsonBody(200, `{}`))
	c := newClient(t, srv.URL, nil)
	ctx, span := tracing.Invocation(context.Background(), "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	if err := c.GetJSON(ctx, "/v1/users/u-1?email=a@example.com", nil); err != nil {
		t.Fatal(err)
	}
	span.End(nil)
	docs := d.Wait(3)
	var calls []tracingtest.Doc
	for _, doc := range docs {
		if doc.Str("name") == "users" {
			calls = append(calls, doc)
		}
	}
	if len(calls) != 2 {
		t.Fatalf("want one subsegment per attempt: %v", docs)
	}
	for i, wantStatus := range []float64{503, 200} {
		sub := calls[i]
		req := sub.Obj("http")["request"].(map[string]any)
		if sub.Str("namespace") != "remote" || req["method"] != "GET" || req["url"] != srv.URL+"/v1/users/u-1" ||
			sub.Obj("http")["response"].(map[string]any)["status"] != wantStatus || (sub["fault"] == true) != (wantStatus == 503) {
			t.Errorf("attempt %d: %v", i+1, sub)
		}
		if got := srv.requests()[i].header.Get("X-Amzn-Trace-Id"); !strings.Contains(got, "Parent="+sub.Str("id")) {
			t.Errorf("attempt %d sent %q, not its own subsegment", i+1, got)
		}
	}
}
