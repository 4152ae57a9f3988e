package idempotency_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/idempotency"
	"github.com/shop-serverless/shop/shared/store/storetest"
)

// counter is an operation with a visible side effect: each run adds one.
type counter struct {
	runs    atomic.Int64
	status  int
	started chan struct{} // closed-over signal for the in-progress test
	block   chan struct{}
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := c.runs.Add(1)
	if c.started != nil {
		close(c.started)
		<-c.block
	}
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Location", fmt.Sprintf("/things/%d", n))
	w.Header().Set("X-Not-Stored", "1")
	status := c.status
	if status == 0 {
		status = http.StatusCreated
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"run":%d,"echo":%q}`, n, body)
}

func newMiddleware(t *testing.T, opts idempotency.Options) *idempotency.Middleware {
	t.Helper()
	db, table := storetest.Table(t, "inventory")
	if opts.Scope == "" {
		opts.Scope = "test"
	}
	return idempotency.New(db, table, opts)
}

func do(t *testing.T, h http.Handler, key, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", "/things", strings.NewReader(body))
	if key != "" {
		req.Header.Set(httpapi.HeaderIdempotencyKey, key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func problemStatus(t *testing.T, rec *httptest.ResponseRecorder) int {
	t.Helper()
	var p struct{ Status int }
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("not a problem body: %s", rec.Body)
	}
	return p.Status
}

func TestReplayAndMismatch(t *testing.T) {
	c := &counter{}
	h := newMiddleware(t, idempotency.Options{}).Wrap(c)

	first := do(t, h, "k1", `{"a":1}`)
	if first.Code != http.StatusCreated || first.Header().Get(idempotency.HeaderReplayed) != "" {
		t.Fatalf("first: %d %v", first.Code, first.Header())
	}
	again := do(t, h, "k1", `{"a":1}`)
	if again.Code != http.StatusCreated || again.Body.String() != first.Body.String() {
		t.Fatalf("replay = %d %s, want %d %s", again.Code, again.Body, first.Code, first.Body)
	}
	if again.Header().Get(idempotency.HeaderReplayed) != "true" || again.Header().Get("Location") != "/things/1" || again.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("replay headers = %v", again.Header())
	}
	if again.Header().Get("X-Not-Stored") != "" {
		t.Fatal("replayed a header that is not meant to be stored")
	}
	if c.runs.Load() != 1 {
		t.Fatalf("operation ran %d times, want 1", c.runs.Load())
	}
	if rec := do(t, h, "k1", `{"a":2}`); rec.Code != http.StatusUnprocessableEntity || problemStatus(t, rec) != 422 {
		t.Fatalf("other body, same key: %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, h, "k2", `{"a":2}`); rec.Code != http.StatusCreated || c.runs.Load() != 2 {
		t.Fatalf("new key: %d, runs %d", rec.Code, c.runs.Load())
	}
}

func TestKeyRules(t *testing.T) {
	c := &counter{}
	optional := newMiddleware(t, idempotency.Options{}).Wrap(c)
	if rec := do(t, optional, "", `{}`); rec.Code != http.StatusCreated {
		t.Fatalf("optional key absent: %d", rec.Code)
	}
	if rec := do(t, optional, "", `{}`); rec.Code != http.StatusCreated || c.runs.Load() != 2 {
		t.Fatalf("without a key every request runs: %d, runs %d", rec.Code, c.runs.Load())
	}
	required := newMiddleware(t, idempotency.Options{Required: true}).Wrap(c)
	if rec := do(t, required, "", `{}`); rec.Code != http.StatusBadRequest {
		t.Fatalf("required key absent: %d", rec.Code)
	}
	if rec := do(t, required, strings.Repeat("x", 256), `{}`); rec.Code != http.StatusBadRequest {
		t.Fatalf("key too long: %d", rec.Code)
	}
	if rec := do(t, required, "bad\x01key", `{}`); rec.Code != http.StatusBadRequest {
		t.Fatalf("key with control character: %d", rec.Code)
	}
	if c.runs.Load() != 2 {
		t.Fatalf("refused requests ran the operation: runs %d", c.runs.Load())
	}
}

func TestServerErrorReleasesKey(t *testing.T) {
	c := &counter{status: http.StatusServiceUnavailable}
	h := newMiddleware(t, idempotency.Options{}).Wrap(c)
	if rec := do(t, h, "k", `{}`); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("first: %d", rec.Code)
	}
	c.status = http.StatusCreated
	if rec := do(t, h, "k", `{}`); rec.Code != http.StatusCreated || rec.Header().Get(idempotency.HeaderReplayed) != "" {
		t.Fatalf("retry after a 5xx must run again: %d replayed=%q", rec.Code, rec.Header().Get(idempotency.HeaderReplayed))
	}
	if c.runs.Load() != 2 {
		t.Fatalf("runs = %d, want 2", c.runs.Load())
	}
}

func TestPanicReleasesKey(t *testing.T) {
	st := newMiddleware(t, idempotency.Options{})
	panicking := st.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	func() {
		defer func() { _ = recover() }()
		do(t, panicking, "k", `{}`)
	}()
	c := &counter{}
	if rec := do(t, st.Wrap(c), "k", `{}`); rec.Code != http.StatusCreated || c.runs.Load() != 1 {
		t.Fatalf("after a panic the key must be free: %d, runs %d", rec.Code, c.runs.Load())
	}
}

func TestConcurrentSameKeyRunsOnce(t *testing.T) {
	c := &counter{started: make(chan struct{}), block: make(chan struct{})}
	h := newMiddleware(t, idempotency.Options{}).Wrap(c)
	var first *httptest.ResponseRecorder
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); first = do(t, h, "k", `{}`) }()
	<-c.started
	// While the first request holds the key, a duplicate is told to retry.
	dup := do(t, h, "k", `{}`)
	if dup.Code != http.StatusConflict || dup.Header().Get("Retry-After") == "" {
		t.Fatalf("duplicate in flight: %d %v", dup.Code, dup.Header())
	}
	close(c.block)
	wg.Wait()
	if first.Code != http.StatusCreated {
		t.Fatalf("first: %d", first.Code)
	}
	if rec := do(t, h, "k", `{}`); rec.Header().Get(idempotency.HeaderReplayed) != "true" || c.runs.Load() != 1 {
		t.Fatalf("after completion: replayed=%q runs=%d", rec.Header().Get(idempotency.HeaderReplayed), c.runs.Load())
	}
}

func TestExpiredLockAndRecordAreTakenOver(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	c := &counter{}
	st := newMiddleware(t, idempotency.Options{TTL: time.Hour, LockTimeout: time.Second, Now: clock})
	h := st.Wrap(c)
	if rec := do(t, h, "k", `{}`); rec.Code != http.StatusCreated {
		t.Fatal(rec.Code)
	}
	now = now.Add(2 * time.Hour) // past the record's TTL; DynamoDB may not have deleted it yet
	if rec := do(t, h, "k", `{}`); rec.Header().Get(idempotency.HeaderReplayed) != "" || c.runs.Load() != 2 {
		t.Fatalf("expired record must not replay: replayed=%q runs=%d", rec.Header().Get(idempotency.HeaderReplayed), c.runs.Load())
	}

	// A lock whose holder died: a request with a deadline sets the lock to
	// the deadline, then never completes.
	blocker := &counter{started: make(chan struct{}), block: make(chan struct{})}
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(time.Hour))
	defer cancel()
	go func() {
		req := httptest.NewRequest("POST", "/things", strings.NewReader(`{}`)).WithContext(ctx)
		req.Header.Set(httpapi.HeaderIdempotencyKey, "stuck")
		st.Wrap(blocker).ServeHTTP(httptest.NewRecorder(), req)
	}()
	<-blocker.started
	if rec := do(t, h, "stuck", `{}`); rec.Code != http.StatusConflict {
		t.Fatalf("lock still valid: %d", rec.Code)
	}
	now = now.Add(2 * time.Hour) // past the holder's deadline
	if rec := do(t, h, "stuck", `{}`); rec.Code != http.StatusCreated {
		t.Fatalf("timed-out lock must be taken over: %d %s", rec.Code, rec.Body)
	}
	close(blocker.block) // the zombie finishes; its completion must not overwrite the new record
	time.Sleep(200 * time.Millisecond)
	if rec := do(t, h, "stuck", `{}`); rec.Header().Get(idempotency.HeaderReplayed) != "true" || !strings.Contains(rec.Body.String(), `"run":3`) {
		t.Fatalf("record after the zombie finished: %s (replayed=%q)", rec.Body, rec.Header().Get(idempotency.HeaderReplayed))
	}
}

func TestOversizedBodyPassesThroughToHandler(t *testing.T) {
	var got int
	h := newMiddleware(t, idempotency.Options{Required: true}).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = len(b)
		w.WriteHeader(http.StatusRequestEntityTooLarge)
	}))
	body := strings.Repeat("a", httpapi.MaxBodyBytes+10)
	if rec := do(t, h, "big", body); rec.Code != http.StatusRequestEntityTooLarge || got != len(body) {
		t.Fatalf("oversized: %d, handler saw %d bytes of %d", rec.Code, got, len(body))
	}
}

// A refused request (4xx) stores nothing: the same key runs the operation
// again, and the client may fix its request and retry with that key.
func TestRefusalIsNotStored(t *testing.T) {
	c := &counter{status: http.StatusBadRequest}
	h := newMiddleware(t, idempotency.Options{}).Wrap(c)
	if rec := do(t, h, "k4", `{"a":1}`); rec.Code != http.StatusBadRequest {
		t.Fatalf("first: %d", rec.Code)
	}
	c.status = http.StatusCreated
	rec := do(t, h, "k4", `{"a":2}`)
	if rec.Code != http.StatusCreated || rec.Header().Get(idempotency.HeaderReplayed) != "" || c.runs.Load() != 2 {
		t.Fatalf("after a 400, the fixed request: %d %s (runs %d), want it run", rec.Code, rec.Body, c.runs.Load())
	}
}

// FirstAttempt tells the handler whether its key had a record: true for a
// new key and for one released by a failed attempt, false for a takeover
// of an attempt that died holding the key (it may have done part of the
// work), and false without the middleware.
func TestFirstAttempt(t *testing.T) {
	now := time.Now()
	m := newMiddleware(t, idempotency.Options{TTL: time.Hour, LockTimeout: time.Second, Now: func() time.Time { return now }})
	var seen []bool
	status := http.StatusCreated
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, idempotency.FirstAttempt(r.Context()))
		w.WriteHeader(status)
	}))
	do(t, h, "new", `{}`)
	do(t, h, "new", `{}`) // replayed: the handler does not run
	status = http.StatusServiceUnavailable
	do(t, h, "failed", `{}`) // released
	status = http.StatusCreated
	do(t, h, "failed", `{}`)
	if want := []bool{true, true, true}; !slices.Equal(seen, want) {
		t.Fatalf("FirstAttempt seen %v, want %v", seen, want)
	}

	// An attempt that dies holding the key: its lock runs to its deadline.
	blocker := &counter{started: make(chan struct{}), block: make(chan struct{})}
	defer close(blocker.block)
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(time.Minute))
	defer cancel()
	go func() {
		req := httptest.NewRequest("POST", "/things", strings.NewReader(`{}`)).WithContext(ctx)
		req.Header.Set(httpapi.HeaderIdempotencyKey, "died")
		m.Wrap(blocker).ServeHTTP(httptest.NewRecorder(), req)
	}()
	<-blocker.started
	now = now.Add(2 * time.Minute) // past the holder's deadline
	seen = nil
	if rec := do(t, h, "died", `{}`); rec.Code != http.StatusCreated || !slices.Equal(seen, []bool{false}) {
		t.Fatalf("takeover: status %d, FirstAttempt seen %v, want [false]", rec.Code, seen)
	}
	if idempotency.FirstAttempt(context.Background()) {
		t.Error("FirstAttempt without the middleware")
	}
}
