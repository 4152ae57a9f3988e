package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/awscalls"
	"github.com/shop-serverless/shop/shared/clocktest"
	"github.com/shop-serverless/shop/shared/store"
	"github.com/shop-serverless/shop/shared/store/storetest"
)

// memDB is just enough DynamoDB for the fault switch: items by pk, and a
// count of reads.
type memDB struct {
	store.DB
	mu    sync.Mutex
	items map[string]store.Item
	gets  atomic.Int32
	err   error
}

func newMemDB() *memDB { return &memDB{items: map[string]store.Item{}} }

func (m *memDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	m.gets.Add(1)
	if m.err != nil {
		return nil, m.err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return &dynamodb.GetItemOutput{Item: m.items[keyString(in.Key)]}, nil
}

func (m *memDB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items[keyString(in.Item)] = in.Item
	return &dynamodb.PutItemOutput{}, nil
}

func (m *memDB) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.items, keyString(in.Key))
	return &dynamodb.DeleteItemOutput{}, nil
}

func keyString(item store.Item) string {
	pk, _ := item[store.PK].(*types.AttributeValueMemberS)
	sk, _ := item[store.SK].(*types.AttributeValueMemberS)
	return pk.Value + "|" + sk.Value
}

// panicDB fails the test on any call: a disabled Injector must not read.
type panicDB struct {
	store.DB
	t *testing.T
}

func (p panicDB) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	p.t.Fatal("a disabled Injector called DynamoDB")
	return nil, nil
}

// enabled returns an Injector for "users-get" on db with a fake clock.
func enabled(t *testing.T, db store.DB, table string) (*Injector, *clocktest.Clock) {
	t.Helper()
	t.Setenv(EnvSwitch, "1")
	i := New(db, table, "users-get")
	c := clocktest.New(time.Now())
	i.now = c.Now
	return i, c
}

// okHandler is comparable, so a test can tell that Middleware returned it as is.
type okHandler struct{ calls atomic.Int32 }

func (h *okHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h.calls.Add(1)
	w.WriteHeader(http.StatusNoContent)
}

func serve(h http.Handler) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/users/1", nil))
	return rec
}

func TestDisabledUnlessSwitchedOn(t *testing.T) {
	for _, v := range []string{"", "0", "true", "yes"} {
		t.Setenv(EnvSwitch, v)
		i := New(panicDB{t: t}, "users", "users-get")
		next := &okHandler{}
		h := i.Middleware(next)
		if h != http.Handler(next) {
			t.Errorf("SHOP_FAULTS=%q: Middleware wrapped the handler; want it returned as is", v)
		}
		if rec := serve(h); rec.Code != http.StatusNoContent {
			t.Errorf("SHOP_FAULTS=%q: status %d", v, rec.Code)
		}
		if err := i.Inject(context.Background()); err != nil {
			t.Errorf("SHOP_FAULTS=%q: Inject = %v", v, err)
		}
	}
	var nilInjector *Injector
	if err := nilInjector.Inject(context.Background()); err != nil {
		t.Errorf("nil Injector: Inject = %v", err)
	}
}

func TestErrorFault(t *testing.T) {
	for _, tt := range []struct {
		set, want int
	}{{0, 503}, {500, 500}, {429, 429}} {
		db := newMemDB()
		i, _ := enabled(t, db, "users")
		if err := Set(context.Background(), db, "users", "users-get", Fault{Mode: ModeError, Status: tt.set}); err != nil {
			t.Fatal(err)
		}
		next := &okHandler{}
		rec := serve(i.Middleware(next))
		if rec.Code != tt.want || next.calls.Load() != 0 {
			t.Errorf("status %d, next called %d times; want %d and never", rec.Code, next.calls.Load(), tt.want)
		}
		var p struct{ Detail string }
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("Content-Type = %q", ct)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Detail != "injected fault" {
			t.Errorf("body = %s", rec.Body)
		}
		var ie *InjectedError
		if err := i.Inject(context.Background()); !errors.As(err, &ie) || ie.Status != tt.want {
			t.Errorf("Inject = %v, want an *InjectedError with status %d", err, tt.want)
		}
	}
}

func TestLatencyFault(t *testing.T) {
	db := newMemDB()
	i, _ := enabled(t, db, "users")
	if err := Set(context.Background(), db, "users", "users-get", Fault{Mode: ModeLatency, Latency: 80 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	next := &okHandler{}
	start := time.Now()
	rec := serve(i.Middleware(next))
	if elapsed := time.Since(start); elapsed < 80*time.Millisecond || rec.Code != http.StatusNoContent || next.calls.Load() != 1 {
		t.Errorf("after %v: status %d, next called %d times; want a delay of 80ms, then the handler", elapsed, rec.Code, next.calls.Load())
	}

	// The wait ends with the request.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	start = time.Now()
	if err := i.Inject(ctx); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 500*time.Millisecond {
		t.Errorf("Inject with a short deadline = %v after %v", err, time.Since(start))
	}
}

func TestSwitchIsReadAtMostOncePerSecond(t *testing.T) {
	db := newMemDB()
	i, c := enabled(t, db, "users")
	next := &okHandler{}
	h := i.Middleware(next)
	for range 20 {
		serve(h)
	}
	if n := db.gets.Load(); n != 1 {
		t.Fatalf("%d reads for 20 requests within a second, want 1", n)
	}
	// Switched on: the cached "no fault" holds until the second is over.
	if err := Set(context.Background(), db, "users", "users-get", Fault{Mode: ModeError}); err != nil {
		t.Fatal(err)
	}
	c.Advance(999 * time.Millisecond)
	if rec := serve(h); rec.Code != http.StatusNoContent {
		t.Errorf("status %d within the cache second, want the handler's 204", rec.Code)
	}
	c.Advance(time.Millisecond)
	if rec := serve(h); rec.Code != 503 {
		t.Errorf("status %d after the cache second, want the injected 503", rec.Code)
	}
	if n := db.gets.Load(); n != 2 {
		t.Errorf("%d reads, want 2", n)
	}
	// Cleared: back to normal after the next read.
	if err := Clear(context.Background(), db, "users", "users-get"); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)
	if rec := serve(h); rec.Code != http.StatusNoContent {
		t.Errorf("status %d after Clear, want 204", rec.Code)
	}
}

func TestFaultExpires(t *testing.T) {
	db := newMemDB()
	i, c := enabled(t, db, "users")
	until := c.Now().Add(500 * time.Millisecond)
	if err := Set(context.Background(), db, "users", "users-get", Fault{Mode: ModeError, Until: until}); err != nil {
		t.Fatal(err)
	}
	h := i.Middleware(&okHandler{})
	if rec := serve(h); rec.Code != 503 {
		t.Fatalf("status %d before Until, want 503", rec.Code)
	}
	c.Advance(500 * time.Millisecond) // still cached, but expired
	if rec := serve(h); rec.Code != http.StatusNoContent {
		t.Errorf("status %d at Until, want the handler's 204", rec.Code)
	}
	if db.gets.Load() != 1 {
		t.Errorf("%d reads, want 1: expiry needs no read", db.gets.Load())
	}
}

func TestUnreadableSwitchInjectsNothing(t *testing.T) {
	db := newMemDB()
	db.err = errors.New("AccessDeniedException")
	i, _ := enabled(t, db, "users")
	next := &okHandler{}
	if rec := serve(i.Middleware(next)); rec.Code != http.StatusNoContent || next.calls.Load() != 1 {
		t.Errorf("status %d: a DynamoDB error must not fail the request", rec.Code)
	}
}

func TestSetRejectsBadFaults(t *testing.T) {
	for _, f := range []Fault{
		{Mode: "explode"},
		{Mode: ModeError, Status: 200},
		{Mode: ModeCrash, Rate: -0.1},
		{Mode: ModeThrottle, Rate: 1.5},
		{Mode: ModeError, Status: 600},
		{Mode: ModeLatency},
		{Mode: ModeLatency, Latency: time.Hour},
	} {
		if err := Set(context.Background(), newMemDB(), "users", "users-get", f); err == nil {
			t.Errorf("Set(%+v): want an error", f)
		}
	}
	if err := Set(context.Background(), newMemDB(), "users", "", Fault{Mode: ModeError}); err == nil {
		t.Error("Set without a function name: want an error")
	}
}

func TestAgainstTheEmulator(t *testing.T) {
	db, table := storetest.Table(t, "users")
	ctx := context.Background()
	i, c := enabled(t, db, table)
	next := &okHandler{}
	h := i.Middleware(next)

	if rec := serve(h); rec.Code != http.StatusNoContent {
		t.Fatalf("no fault: status %d", rec.Code)
	}
	if err := Set(ctx, db, table, "users-get", Fault{Mode: ModeError, Status: 502, Until: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// Another function's switch is its own.
	if err := Set(ctx, db, table, "users-update", Fault{Mode: ModeLatency, Latency: time.Minute}); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)
	if rec := serve(h); rec.Code != 502 {
		t.Fatalf("error fault: status %d, want 502", rec.Code)
	}

	if err := Set(ctx, db, table, "users-get", Fault{Mode: ModeLatency, Latency: 1500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)
	start := time.Now()
	if rec := serve(h); rec.Code != http.StatusNoContent || time.Since(start) < 1500*time.Millisecond {
		t.Fatalf("latency fault: status %d after %v", rec.Code, time.Since(start))
	}

	if err := Clear(ctx, db, table, "users-get"); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)
	start = time.Now()
	if rec := serve(h); rec.Code != http.StatusNoContent || time.Since(start) > time.Second {
		t.Fatalf("cleared: status %d after %v", rec.Code, time.Since(start))
	}
	if err := Clear(ctx, db, table, "users-get"); err != nil {
		t.Errorf("Clear of an absent switch: %v", err)
	}
}

type answerEmpty struct{}

func (answerEmpty) Do(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{}`))}, nil
}

// The switch exists only on the local stack: its read is recorded as local
// test machinery, which the end-to-end least-privilege check leaves out.
func TestReadingTheSwitchIsRecordedAsLocalOnly(t *testing.T) {
	var out bytes.Buffer
	db := dynamodb.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint: aws.String("http://127.0.0.1:1"),
		HTTPClient:   awscalls.New(answerEmpty{}, &out),
	})
	i, _ := enabled(t, db, "shop-users")
	if err := i.Inject(t.Context()); err != nil {
		t.Fatal(err)
	}
	c, ok := awscalls.ParseLine(strings.TrimSpace(out.String()))
	if !ok || c.Operation != "GetItem" || c.LocalOnly != "faults" {
		t.Errorf("recorded %q, want a GetItem marked local-only (faults)", &out)
	}

	// A function clears its keyed crash before crashing: local only too.
	out.Reset()
	if err := ClearKey(t.Context(), db, "shop-users", "users-get", "order-1"); err != nil {
		t.Fatal(err)
	}
	c, ok = awscalls.ParseLine(strings.TrimSpace(out.String()))
	if !ok || c.Operation != "DeleteItem" || c.LocalOnly != "faults" {
		t.Errorf("recorded %q, want a DeleteItem marked local-only (faults)", &out)
	}
}

// A fault with a Path breaks that resource only: other requests to the
// same function, and Inject (no request path), go through.
func TestPathFault(t *testing.T) {
	db := newMemDB()
	i, _ := enabled(t, db, "users")
	if err := Set(context.Background(), db, "users", "users-get", Fault{Mode: ModeError, Status: 503, Path: "/users/1"}); err != nil {
		t.Fatal(err)
	}
	next := &okHandler{}
	h := i.Middleware(next)
	for path, want := range map[string]int{"/users/1": 503, "/users/1/orders": 503, "/users/2": http.StatusNoContent, "/": http.StatusNoContent} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("%s: status %d, want %d", path, rec.Code, want)
		}
	}
	if err := i.Inject(context.Background()); err != nil {
		t.Errorf("Inject with a path fault set = %v, want nil", err)
	}
}

// A fault with a Key fails InjectKey for that key only, and never Inject
// or Middleware; a keyless fault applies to InjectKey as well.
func TestKeyFault(t *testing.T) {
	ctx := context.Background()
	db := newMemDB()
	i, c := enabled(t, db, "orders")
	if err := Set(ctx, db, "orders", "users-get", Fault{Mode: ModeError, Status: 500, Key: "order-1"}); err != nil {
		t.Fatal(err)
	}
	var ie *InjectedError
	if err := i.InjectKey(ctx, "order-1"); !errors.As(err, &ie) || ie.Status != 500 {
		t.Fatalf("InjectKey(order-1) = %v, want an *InjectedError with status 500", err)
	}
	if err := i.InjectKey(ctx, "order-2"); err != nil {
		t.Errorf("InjectKey(order-2) = %v, want nil", err)
	}
	if err := i.Inject(ctx); err != nil {
		t.Errorf("Inject with a key fault set = %v, want nil", err)
	}
	if rec := serve(i.Middleware(&okHandler{})); rec.Code != http.StatusNoContent {
		t.Errorf("Middleware with a key fault set: status %d, want 204", rec.Code)
	}

	// A second key's fault stands beside the first: two tests, two orders.
	if err := Set(ctx, db, "orders", "users-get", Fault{Mode: ModeError, Status: 502, Key: "order-3"}); err != nil {
		t.Fatal(err)
	}
	if err := i.InjectKey(ctx, "order-1"); !errors.As(err, &ie) || ie.Status != 500 {
		t.Errorf("InjectKey(order-1) after order-3's fault = %v, want status 500 still", err)
	}
	if err := i.InjectKey(ctx, "order-3"); !errors.As(err, &ie) || ie.Status != 502 {
		t.Errorf("InjectKey(order-3) = %v, want status 502", err)
	}
	if err := ClearKey(ctx, db, "orders", "users-get", "order-3"); err != nil {
		t.Fatal(err)
	}
	if err := i.InjectKey(ctx, "order-3"); err != nil {
		t.Errorf("InjectKey(order-3) after ClearKey = %v, want nil at once", err)
	}

	if err := Set(ctx, db, "orders", "users-get", Fault{Mode: ModeError, Status: 503}); err != nil {
		t.Fatal(err)
	}
	c.Advance(cacheFor)
	if err := i.InjectKey(ctx, "order-2"); !errors.As(err, &ie) || ie.Status != 503 {
		t.Errorf("InjectKey with a keyless fault = %v, want an *InjectedError with status 503", err)
	}
	if err := i.InjectKey(ctx, "order-1"); !errors.As(err, &ie) || ie.Status != 500 {
		t.Errorf("InjectKey(order-1) with a keyless fault too = %v, want its own (500)", err)
	}

	if err := Set(ctx, db, "orders", "users-get", Fault{Mode: ModeError, Path: "/v1/orders", Key: "order-1"}); err == nil {
		t.Error("Set accepted a fault with both a Path and a Key")
	}
}

// An injected failure reaches Step Functions under a name no Retry lists.
func TestInjectedErrorType(t *testing.T) {
	var typed interface{ ErrorType() string }
	err := fmt.Errorf("mark confirmed: %w", &InjectedError{Status: 503})
	if !errors.As(err, &typed) || typed.ErrorType() != "InjectedFault" {
		t.Fatalf("ErrorType of %v: want InjectedFault", err)
	}
}
