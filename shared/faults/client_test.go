package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/store"
)

// fakeDynamoDB answers every request with status and body, counting them.
type fakeDynamoDB struct {
	status int
	body   string
	calls  atomic.Int32
}

func (f *fakeDynamoDB) Do(*http.Request) (*http.Response, error) {
	f.calls.Add(1)
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.0")
	return &http.Response{StatusCode: f.status, Header: h, Body: io.NopCloser(strings.NewReader(f.body))}, nil
}

// faultyClient is a DynamoDB client made with DynamoDBOptions, talking to fake.
func faultyClient(t *testing.T, fake *fakeDynamoDB) *dynamodb.Client {
	t.Helper()
	t.Setenv(EnvSwitch, "1")
	opts := DynamoDBOptions()
	if len(opts) == 0 {
		t.Fatal("DynamoDBOptions with SHOP_FAULTS=1: none")
	}
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String("http://dynamodb.invalid"),
		HTTPClient:   fake,
		// No retry delays: a throttle must fail at once anyway.
		RetryMaxAttempts: 1,
	}, opts...)
}

// exits records the exit codes an Injector's crash asks for.
type exits struct{ codes []int }

func (e *exits) exit(code int) { e.codes = append(e.codes, code) }

// loggedTo returns ctx with a JSON logger writing into buf.
func loggedTo(ctx context.Context, buf *bytes.Buffer) context.Context {
	return log.WithContext(ctx, slog.New(slog.NewJSONHandler(buf, nil)))
}

func put(ctx context.Context, db *dynamodb.Client) error {
	_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("orders"), Item: store.Key("ORDER#1", "ORDER")})
	return err
}

func TestDynamoDBOptionsOnlyWithTheSwitch(t *testing.T) {
	for _, v := range []string{"", "0", "true"} {
		t.Setenv(EnvSwitch, v)
		if opts := DynamoDBOptions(); opts != nil {
			t.Errorf("SHOP_FAULTS=%q: %d options, want none", v, len(opts))
		}
	}
}

// A crash fault exits after the function's first successful write, with
// one ERROR line "injected crash" first; reads, failed writes and the
// platform's bookkeeping never end it.
func TestCrashAfterTheFirstCommittedWrite(t *testing.T) {
	ctx := context.Background()
	sw := newMemDB()
	i, _ := enabled(t, sw, "orders")
	var ex exits
	i.exit = ex.exit
	if err := Set(ctx, sw, "orders", "users-get", Fault{Mode: ModeCrash, Key: "order-1"}); err != nil {
		t.Fatal(err)
	}

	failing := faultyClient(t, &fakeDynamoDB{status: 400, body: `{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}`})
	ok := faultyClient(t, &fakeDynamoDB{status: 200, body: `{}`})

	var logged bytes.Buffer
	armed, err := i.Begin(loggedTo(ctx, &logged), "order-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ok.GetItem(armed, &dynamodb.GetItemInput{TableName: aws.String("orders"), Key: store.Key("ORDER#1", "ORDER")}); err != nil {
		t.Fatal(err)
	}
	if err := put(armed, failing); err == nil {
		t.Fatal("the failing client's PutItem succeeded")
	}
	if err := put(store.Machinery(armed), ok); err != nil {
		t.Fatal(err)
	}
	if err := put(ctx, ok); err != nil { // another invocation's, without the fault
		t.Fatal(err)
	}
	if len(ex.codes) != 0 {
		t.Fatalf("exited %v before the function's own write", ex.codes)
	}
	if err := put(armed, ok); err != nil {
		t.Fatal(err)
	}
	if len(ex.codes) != 1 || ex.codes[0] == 0 {
		t.Fatalf("exits after the write: %v, want one non-zero", ex.codes)
	}
	var line struct {
		Level, Msg string
	}
	if err := json.Unmarshal(bytes.TrimSpace(logged.Bytes()), &line); err != nil || line.Level != "ERROR" || line.Msg != "injected crash" {
		t.Errorf("logged %q (%v), want one JSON line, level ERROR, msg \"injected crash\"", logged.String(), err)
	}

	// Another order's invocation is untouched.
	other, err := i.Begin(ctx, "order-2")
	if err != nil {
		t.Fatal(err)
	}
	if err := put(other, ok); err != nil || len(ex.codes) != 1 {
		t.Errorf("order-2's write: %v, exits %v", err, ex.codes)
	}
}

// Every write kind commits a change.
func TestCrashAfterEachWriteKind(t *testing.T) {
	ctx := context.Background()
	sw := newMemDB()
	i, _ := enabled(t, sw, "orders")
	var ex exits
	i.exit = ex.exit
	if err := Set(ctx, sw, "orders", "users-get", Fault{Mode: ModeCrash}); err != nil {
		t.Fatal(err)
	}
	db := faultyClient(t, &fakeDynamoDB{status: 200, body: `{}`})
	key := store.Key("ORDER#1", "ORDER")
	for name, write := range map[string]func(context.Context) error{
		"UpdateItem": func(ctx context.Context) error {
			_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("orders"), Key: key, UpdateExpression: aws.String("SET a = :a"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":a": store.S("x")}})
			return err
		},
		"DeleteItem": func(ctx context.Context) error {
			_, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("orders"), Key: key})
			return err
		},
		"TransactWriteItems": func(ctx context.Context) error {
			_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
				{Put: &types.Put{TableName: aws.String("orders"), Item: key}}}})
			return err
		},
	} {
		before := len(ex.codes)
		armed, err := i.Begin(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := write(armed); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(ex.codes) != before+1 {
			t.Errorf("%s: no crash after it", name)
		}
	}
}

// A throttle fault fails the function's DynamoDB calls as DynamoDB
// throttling does, without sending them, and leaves the bookkeeping alone.
func TestThrottleFailsTheFunctionsCalls(t *testing.T) {
	ctx := context.Background()
	sw := newMemDB()
	i, _ := enabled(t, sw, "orders")
	if err := Set(ctx, sw, "orders", "users-get", Fault{Mode: ModeThrottle}); err != nil {
		t.Fatal(err)
	}
	fake := &fakeDynamoDB{status: 200, body: `{}`}
	db := faultyClient(t, fake)
	armed, err := i.Begin(ctx, "order-1")
	if err != nil {
		t.Fatal(err)
	}
	_, getErr := db.GetItem(armed, &dynamodb.GetItemInput{TableName: aws.String("orders"), Key: store.Key("ORDER#1", "ORDER")})
	for name, err := range map[string]error{"GetItem": getErr, "PutItem": put(armed, db)} {
		var throttled *types.ProvisionedThroughputExceededException
		if !errors.As(err, &throttled) {
			t.Errorf("%s: %v, want a *types.ProvisionedThroughputExceededException", name, err)
		}
	}
	if n := fake.calls.Load(); n != 0 {
		t.Errorf("%d requests reached DynamoDB, want none", n)
	}
	if err := put(store.Machinery(armed), db); err != nil {
		t.Errorf("bookkeeping write throttled: %v", err)
	}
	if err := put(ctx, db); err != nil {
		t.Errorf("a write outside the invocation throttled: %v", err)
	}
	// The switch's own reads are bookkeeping too: reading it through a
	// faulty client under the fault still works.
	if _, err := get(armed, db, "orders", "users-get", ""); err != nil {
		t.Errorf("reading the switch under a throttle: %v", err)
	}
}

// A fault with 0<Rate<1 applies to that share of invocations, each drawn.
func TestRate(t *testing.T) {
	ctx := context.Background()
	sw := newMemDB()
	i, c := enabled(t, sw, "orders")
	draws := []float64{0.1, 0.5, 0.29, 0.3, 0.99}
	i.draw = func() float64 { d := draws[0]; draws = draws[1:]; return d }
	if err := Set(ctx, sw, "orders", "users-get", Fault{Mode: ModeError, Status: 500, Rate: 0.3}); err != nil {
		t.Fatal(err)
	}
	var got []bool
	for range 5 {
		got = append(got, i.Inject(ctx) != nil)
	}
	if want := []bool{true, false, true, false, false}; !equal(got, want) {
		t.Errorf("failed %v, want %v (draw < 0.3)", got, want)
	}

	// The same through InjectKey for a keyed fault, with the real draw.
	i.draw = New(sw, "orders", "users-get").draw
	if err := Set(ctx, sw, "orders", "users-get", Fault{Mode: ModeError, Key: "order-1", Rate: 0.25}); err != nil {
		t.Fatal(err)
	}
	failed := 0
	const n = 2000
	for range n {
		if i.InjectKey(ctx, "order-1") != nil {
			failed++
		}
	}
	if share := float64(failed) / n; share < 0.2 || share > 0.3 {
		t.Errorf("rate 0.25: %d of %d failed (%.3f)", failed, n, share)
	}

	// Rate 0 and 1 both mean every invocation.
	for _, rate := range []float64{0, 1} {
		if err := Set(ctx, sw, "orders", "users-get", Fault{Mode: ModeError, Rate: rate}); err != nil {
			t.Fatal(err)
		}
		c.Advance(cacheFor)
		i.draw = func() float64 { return 0.999 }
		if i.Inject(ctx) == nil {
			t.Errorf("rate %v: an invocation went through", rate)
		}
	}
}

func equal(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A fault applied by Begin (or Middleware) is not applied again by a step's
// own InjectKey in the same invocation.
func TestBeginAppliesOnce(t *testing.T) {
	ctx := context.Background()
	sw := newMemDB()
	i, _ := enabled(t, sw, "orders")
	if err := Set(ctx, sw, "orders", "users-get", Fault{Mode: ModeLatency, Latency: 200 * time.Millisecond, Key: "order-1"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	armed, err := i.Begin(ctx, "order-1")
	if err != nil || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("Begin: %v after %v", err, time.Since(start))
	}
	start = time.Now()
	if err := i.InjectKey(armed, "order-1"); err != nil || time.Since(start) > 100*time.Millisecond {
		t.Errorf("InjectKey after Begin: %v after %v, want nil at once", err, time.Since(start))
	}
}

// Rate and the new modes survive the switch's item.
func TestSetAndReadTheNewModes(t *testing.T) {
	ctx := context.Background()
	sw := newMemDB()
	until := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	for _, f := range []Fault{
		{Mode: ModeCrash, Key: "order-1", Rate: 0.5},
		{Mode: ModeThrottle, Until: until},
	} {
		if err := Set(ctx, sw, "orders", "orders-create", f); err != nil {
			t.Fatal(err)
		}
		got, err := get(ctx, sw, "orders", "orders-create", f.Key)
		if err != nil {
			t.Fatal(err)
		}
		if got.Mode != f.Mode || got.Rate != f.Rate || got.Key != f.Key || !got.Until.Equal(f.Until) {
			t.Errorf("read %+v, want %+v", *got, f)
		}
	}
}

// The switch's own writes are the platform's bookkeeping.
func TestSwitchWritesAreMachinery(t *testing.T) {
	db := &machineryProbe{memDB: newMemDB()}
	if err := Set(context.Background(), db, "orders", "orders-create", Fault{Mode: ModeCrash}); err != nil {
		t.Fatal(err)
	}
	if err := Clear(context.Background(), db, "orders", "orders-create"); err != nil {
		t.Fatal(err)
	}
	if _, err := get(context.Background(), db, "orders", "orders-create", ""); err != nil {
		t.Fatal(err)
	}
	if db.plain.Load() != 0 || db.marked.Load() != 3 {
		t.Errorf("%d calls marked as machinery and %d not, want 3 and 0", db.marked.Load(), db.plain.Load())
	}
}

type machineryProbe struct {
	*memDB
	marked, plain atomic.Int32
}

func (m *machineryProbe) count(ctx context.Context) {
	if store.IsMachinery(ctx) {
		m.marked.Add(1)
	} else {
		m.plain.Add(1)
	}
}

func (m *machineryProbe) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	m.count(ctx)
	return m.memDB.GetItem(ctx, in, o...)
}

func (m *machineryProbe) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	m.count(ctx)
	return m.memDB.PutItem(ctx, in, o...)
}

func (m *machineryProbe) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	m.count(ctx)
	return m.memDB.DeleteItem(ctx, in, o...)
}

// An HTTP request's Idempotency-Key is its key: a keyed fault breaks one
// client's order and no other request.
func TestMiddlewareKeysByIdempotencyKey(t *testing.T) {
	ctx := context.Background()
	sw := newMemDB()
	i, _ := enabled(t, sw, "orders")
	if err := Set(ctx, sw, "orders", "users-get", Fault{Mode: ModeError, Status: 502, Key: "key-1"}); err != nil {
		t.Fatal(err)
	}
	h := i.Middleware(&okHandler{})
	for key, want := range map[string]int{"key-1": 502, "key-2": http.StatusNoContent, "": http.StatusNoContent} {
		req := httptest.NewRequest(http.MethodPost, "/v1/orders", nil)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Idempotency-Key %q: status %d, want %d", key, rec.Code, want)
		}
	}
}

// A keyed crash happens once: the crashing invocation clears its switch,
// so the retry runs. A keyless one stays on.
func TestKeyedCrashIsSpent(t *testing.T) {
	ctx := context.Background()
	sw := newMemDB()
	i, c := enabled(t, sw, "orders")
	var ex exits
	i.exit = ex.exit
	db := faultyClient(t, &fakeDynamoDB{status: 200, body: `{}`})
	if err := Set(ctx, sw, "orders", "users-get", Fault{Mode: ModeCrash, Key: "order-1"}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		armed, err := i.Begin(ctx, "order-1")
		if err != nil {
			t.Fatal(err)
		}
		if err := put(armed, db); err != nil {
			t.Fatal(err)
		}
	}
	if len(ex.codes) != 1 {
		t.Errorf("a keyed crash: %d exits over two invocations, want 1", len(ex.codes))
	}
	if f, _ := get(ctx, sw, "orders", "users-get", "order-1"); f != nil {
		t.Errorf("the keyed crash's switch is still on: %+v", *f)
	}

	if err := Set(ctx, sw, "orders", "users-get", Fault{Mode: ModeCrash}); err != nil {
		t.Fatal(err)
	}
	c.Advance(cacheFor)
	for range 2 {
		armed, err := i.Begin(ctx, "order-2")
		if err != nil {
			t.Fatal(err)
		}
		if err := put(armed, db); err != nil {
			t.Fatal(err)
		}
	}
	if len(ex.codes) != 3 {
		t.Errorf("a keyless crash: %d exits over two more invocations, want 2 more", len(ex.codes)-1)
	}
}
