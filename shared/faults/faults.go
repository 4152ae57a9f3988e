// Package faults lets tests make a deployed function fail or slow down on
// demand, to check that callers, breakers and the saga cope. It is off in
// production: only a process started with SHOP_FAULTS=1 (which the local
// deployer sets and Terraform never does) looks for a fault at all.
//
//	h = httpapi.Middleware(logger, faults.New(db, table, "users-get").Middleware(h))
//
// and, from a test:
//
//	faults.Set(ctx, db, usersTable, "users-get", faults.Fault{Mode: faults.ModeError, Status: 503})
//
// Saga steps (shared/stepfn), event consumers (shared/runtime/consumer) and
// outbox relays get their fault through Begin, keyed by the order id or the
// event's subject, and a test breaks one order's step only with a fault
// carrying that Key.
//
// Error and latency faults act before the function runs. Crash and throttle
// faults act through the function's DynamoDB client, which must be made
// with DynamoDBOptions; the context Begin (or Middleware) returns carries
// them to it:
//
//	db := dynamodb.NewFromConfig(awsCfg, faults.DynamoDBOptions()...)
//
// A crash ends the process right after the function's first successful
// write (its own change committed, its answer not given), as a crash would;
// a throttle fails its DynamoDB calls as DynamoDB's throttling does once the
// SDK's retries are spent. Neither touches the platform's bookkeeping
// (store.Machinery: idempotency records, consumer claims, breaker state,
// the switch itself): a test aid must not break the machinery it tests.
//
// The switch is an item in the function's own service table (pk
// FAULT#<function>, sk FAULT), so it needs no other AWS service and no
// permission beyond the table the function already reads. A function reads
// it at most once a second.
package faults

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/awscalls"
	"github.com/shop-serverless/shop/shared/backoff"
	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/store"
)

// EnvSwitch must be "1" for New to return a working Injector.
const EnvSwitch = "SHOP_FAULTS"

// Fault modes.
const (
	ModeError   = "error"   // answer with Status instead of running the function
	ModeLatency = "latency" // wait Latency, then run the function
	// ModeCrash: the process exits right after the function's own change is
	// committed (its first successful PutItem, UpdateItem, DeleteItem or
	// TransactWriteItems through its DynamoDB client; a relay's first
	// successful publish), before it answers. A fault with a Key crashes
	// once: the crashing process clears it first, so the retry of the
	// crashed invocation (a saga step's, a redelivered event's, a client's)
	// shows the recovery. Without a Key every matching invocation that
	// writes crashes (Rate: that share of them) until the fault ends.
	ModeCrash = "crash"
	// ModeThrottle: the function's DynamoDB calls fail as DynamoDB
	// throttling (*types.ProvisionedThroughputExceededException, as the SDK
	// returns it once its own retries are spent).
	ModeThrottle = "throttle"
)

// CrashExitCode is the status an injected crash exits with.
const CrashExitCode = 3

// DefaultStatus is an error fault's status when Fault.Status is 0.
const DefaultStatus = http.StatusServiceUnavailable

// cacheFor is how long a read of the switch is trusted: tests see a change
// within a second, and a function under load reads it once a second at most.
const cacheFor = time.Second

// maxLatency keeps a latency fault within what any function may run (Lambda's
// 15 minutes).
const maxLatency = 15 * time.Minute

// Fault is what a function should do instead of, or before, its work.
type Fault struct {
	Mode    string        // ModeError, ModeLatency, ModeCrash or ModeThrottle
	Status  int           // error mode: the status to answer (400-599; default 503)
	Latency time.Duration // latency mode: how long to wait
	Until   time.Time     // optional: the fault ends by itself then
	// Path, if set, confines the fault to HTTP requests whose path starts
	// with it ("/v1/users/<id>"), so one test can break one resource while
	// other tests use the same function; such a fault never applies to
	// Inject, whose callers have no request path.
	Path string
	// Key, if set, confines the fault to the invocations about that key:
	// Begin and InjectKey with it (a saga step passes its order id, a
	// consumer or relay the event's subject) and HTTP requests with it as
	// their Idempotency-Key (one client's order, in Middleware), so one test
	// can fail one order while concurrent orders run through the same
	// function; such a fault never applies to Inject, which has no key. A
	// fault without a Key applies to keyed invocations too.
	Key string
	// Rate is the share of matching invocations the fault applies to: 0 or
	// 1 every one, 0<Rate<1 that fraction of them, each drawn at random.
	Rate float64
}

// InjectedError is the failure an error fault causes.
type InjectedError struct {
	Status int
}

func (e *InjectedError) Error() string { return fmt.Sprintf("injected fault (status %d)", e.Status) }

// ErrorType is the name a saga step's injected failure reaches Step
// Functions under (see shared/runtime): a name of its own, which no Retry
// lists, so the state machine treats it as final and compensates.
func (e *InjectedError) ErrorType() string { return "InjectedFault" }

// Injector applies the fault switched on for one function. A disabled
// Injector (SHOP_FAULTS unset, or nil) does nothing and costs nothing.
type Injector struct {
	db       store.DB
	table    string
	function string
	now      func() time.Time // tests

	// mu is held across the read, so concurrent requests wait for one read
	// instead of each making its own.
	mu        sync.Mutex
	fault     *Fault // nil: none
	fetchedAt time.Time

	draw func() float64 // a Rate's draw, in [0, 1)
	exit func(code int) // a crash's end
}

// New returns the Injector for function (its deployed name, as in SHOP_FUNCTION),
// reading the switch from table (the function's own service table). Unless
// SHOP_FAULTS is "1" it returns a disabled Injector that never touches db.
func New(db store.DB, table, function string) *Injector {
	if os.Getenv(EnvSwitch) != "1" {
		return &Injector{}
	}
	return &Injector{db: db, table: table, function: function, now: time.Now, draw: rand.Float64, exit: os.Exit}
}

func (i *Injector) enabled() bool { return i != nil && i.db != nil }

// Enabled reports an Injector that reads the switch (SHOP_FAULTS=1), so
// wiring can skip the work of finding a key when none would be read.
func (i *Injector) Enabled() bool { return i.enabled() }

// Middleware returns next itself when the Injector is disabled. Enabled, it
// answers an error fault with a problem+json response of the fault's status
// (detail "injected fault"), delays a latency fault's requests before
// passing them on, and passes a crash or throttle fault on to the
// function's DynamoDB client in the request's context. Put it inside
// httpapi.Middleware, so that the injected failure is logged with the
// request's ids like any other.
func (i *Injector) Middleware(next http.Handler) http.Handler {
	if !i.enabled() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, err := i.begin(r.Context(), r.URL.Path, r.Header.Get(httpapi.HeaderIdempotencyKey))
		if err != nil {
			status := DefaultStatus
			var ie *InjectedError
			if errors.As(err, &ie) {
				status = ie.Status
			}
			httpapi.WriteError(w, r, &httpapi.Error{Status: status, Detail: "injected fault", Err: err})
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Inject applies the current fault for code that is not an HTTP handler
// and keeps no context of it: an error fault returns an *InjectedError, a
// latency fault waits (or returns ctx's error if ctx ends first), and no
// fault, a crash or throttle fault (which need Begin's context), a
// disabled Injector, or a ctx that Begin or Middleware already applied a
// fault to, return nil at once.
func (i *Injector) Inject(ctx context.Context) error {
	if decided(ctx) {
		return nil
	}
	_, err := i.inject(ctx, "")
	return err
}

// InjectKey is Inject for an invocation about key (a saga step's order id),
// as Begin applies it.
func (i *Injector) InjectKey(ctx context.Context, key string) error {
	if decided(ctx) {
		return nil
	}
	_, err := i.Begin(ctx, key)
	return err
}

// Begin applies the fault for an invocation about key (a saga step's order
// id, an event's subject; "" for none) at its start: the fault set for
// key, else the function's fault without a Path. Error and latency faults
// act as in Inject; the context returned carries a crash or throttle fault
// to the function's DynamoDB client (DynamoDBOptions) and to Committed, and
// tells a later Inject or InjectKey of the same invocation that its fault
// was applied. A keyed fault has an item of its own, so faults for two keys
// of one function (two tests, two orders) stand side by side; it is read on
// every call, uncached, since each key is asked about a few times at most.
func (i *Injector) Begin(ctx context.Context, key string) (context.Context, error) {
	return i.begin(ctx, "", key)
}

// begin applies the fault for an invocation of path ("" for one that is not
// an HTTP request) about key ("" for none).
func (i *Injector) begin(ctx context.Context, path, key string) (context.Context, error) {
	if !i.enabled() {
		return ctx, nil
	}
	if key != "" {
		f, err := get(ctx, i.db, i.table, i.function, key)
		if err != nil {
			slog.WarnContext(ctx, "faults: cannot read the switch; no fault", slog.String("function", i.function), slog.String("error", err.Error()))
		}
		if f != nil && (f.Until.IsZero() || i.now().Before(f.Until)) {
			return i.apply(ctx, f)
		}
	}
	return i.inject(ctx, path)
}

// inject applies the function's fault without a Key (cached: current) to
// an invocation of path ("" for one that is not an HTTP request).
func (i *Injector) inject(ctx context.Context, path string) (context.Context, error) {
	if !i.enabled() {
		return ctx, nil
	}
	f := i.current(ctx)
	if f == nil || (f.Path != "" && !strings.HasPrefix(path, f.Path)) {
		return withPlan(ctx, nil), nil
	}
	return i.apply(ctx, f)
}

// apply fails, delays or arms the invocation as f says, for the share of
// invocations f.Rate asks.
func (i *Injector) apply(ctx context.Context, f *Fault) (context.Context, error) {
	if f.Rate > 0 && f.Rate < 1 && i.draw() >= f.Rate {
		return withPlan(ctx, nil), nil
	}
	switch f.Mode {
	case ModeError:
		return withPlan(ctx, nil), &InjectedError{Status: f.Status}
	case ModeLatency:
		if err := backoff.Sleep(ctx, f.Latency); err != nil {
			return ctx, fmt.Errorf("injected latency: %w", err)
		}
	case ModeCrash, ModeThrottle:
		p := &plan{mode: f.Mode, exit: i.exit}
		if f.Mode == ModeCrash && f.Key != "" {
			p.spend = func(ctx context.Context) error { return ClearKey(ctx, i.db, i.table, i.function, f.Key) }
		}
		return withPlan(ctx, p), nil
	}
	return withPlan(ctx, nil), nil
}

// current returns the fault in force now, reading the switch if the cached
// copy is older than cacheFor. A switch that cannot be read means no fault:
// a test aid must never be what breaks a function.
func (i *Injector) current(ctx context.Context) *Fault {
	i.mu.Lock()
	defer i.mu.Unlock()
	now := i.now()
	if i.fetchedAt.IsZero() || now.Sub(i.fetchedAt) >= cacheFor {
		f, err := get(ctx, i.db, i.table, i.function, "")
		if err != nil {
			log.FromContext(ctx).LogAttrs(ctx, slog.LevelWarn, "faults: cannot read the fault switch; injecting nothing",
				slog.String("function", i.function), slog.String("error", err.Error()))
		}
		i.fault, i.fetchedAt = f, now
	}
	if i.fault == nil || (!i.fault.Until.IsZero() && !now.Before(i.fault.Until)) {
		return nil
	}
	return i.fault
}

// itemKey is the switch of function: its fault, or with k its fault for k.
func itemKey(function, k string) store.Item {
	if k != "" {
		return store.Key("FAULT#"+function, "KEY#"+k)
	}
	return store.Key("FAULT#"+function, "FAULT")
}

// Item attributes.
const (
	attrMode      = "mode"
	attrStatus    = "status"
	attrLatencyMs = "latencyMs"
	attrUntil     = "until" // epoch ms
	attrPath      = "path"
	attrKey       = "key"
	attrRate      = "rate"
	attrTTL       = "ttl" // epoch seconds: DynamoDB removes an expired switch eventually
)

func get(ctx context.Context, db store.DB, table, function, k string) (*Fault, error) {
	// Only the local stack reads the switch (SHOP_FAULTS is never set on
	// AWS), so the read needs no grant in the function's policy: the
	// end-to-end check of recorded calls against it leaves this one out.
	ctx = store.Machinery(awscalls.LocalOnly(ctx, "faults"))
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table),
		Key:       itemKey(function, k),
		// Strongly consistent: a test that has just called Set expects the
		// next request after the cache expires to see it.
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get fault %s: %w", function, err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	f := &Fault{}
	if v, ok := out.Item[attrMode].(*types.AttributeValueMemberS); ok {
		f.Mode = v.Value
	}
	f.Status = int(number(out.Item, attrStatus))
	f.Latency = time.Duration(number(out.Item, attrLatencyMs)) * time.Millisecond
	if v, ok := out.Item[attrPath].(*types.AttributeValueMemberS); ok {
		f.Path = v.Value
	}
	if v, ok := out.Item[attrKey].(*types.AttributeValueMemberS); ok {
		f.Key = v.Value
	}
	if v, ok := out.Item[attrRate].(*types.AttributeValueMemberN); ok {
		f.Rate, _ = strconv.ParseFloat(v.Value, 64) // not a number: every invocation
	}
	if ms := number(out.Item, attrUntil); ms > 0 {
		f.Until = time.UnixMilli(ms)
	}
	// An item edited by hand may hold anything: keep the function's answers valid.
	if f.Status < 400 || f.Status > 599 {
		f.Status = DefaultStatus
	}
	if !knownMode(f.Mode) {
		return nil, fmt.Errorf("fault %s: unknown mode %q", function, f.Mode)
	}
	return f, nil
}

func number(item store.Item, name string) int64 {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	n, _ := strconv.ParseInt(v.Value, 10, 64) // not a number: treated as absent
	return n
}

// Set switches fault f on for function, replacing any other it had (for
// f.Key, if set: faults for other keys stay). It takes effect
// within a second in every instance of a function started with SHOP_FAULTS=1.
func Set(ctx context.Context, db store.DB, table, function string, f Fault) error {
	if function == "" {
		return errors.New("faults: function name is required")
	}
	item := itemKey(function, f.Key)
	item[attrMode] = store.S(f.Mode)
	switch f.Mode {
	case ModeError:
		if f.Status == 0 {
			f.Status = DefaultStatus
		}
		if f.Status < 400 || f.Status > 599 {
			return fmt.Errorf("faults: status %d is not an error status (400-599)", f.Status)
		}
		item[attrStatus] = store.N(int64(f.Status))
	case ModeLatency:
		if f.Latency <= 0 || f.Latency > maxLatency {
			return fmt.Errorf("faults: latency %v is outside (0, %v]", f.Latency, maxLatency)
		}
		item[attrLatencyMs] = store.N(f.Latency.Milliseconds())
	case ModeCrash, ModeThrottle:
	default:
		return fmt.Errorf("faults: mode %q is not %q, %q, %q or %q", f.Mode, ModeError, ModeLatency, ModeCrash, ModeThrottle)
	}
	if f.Rate < 0 || f.Rate > 1 || f.Rate != f.Rate {
		return fmt.Errorf("faults: rate %v is outside [0, 1]", f.Rate)
	}
	if f.Rate > 0 && f.Rate < 1 {
		item[attrRate] = &types.AttributeValueMemberN{Value: strconv.FormatFloat(f.Rate, 'g', -1, 64)}
	}
	if f.Path != "" && f.Key != "" {
		return errors.New("faults: a fault has a Path (HTTP requests) or a Key (InjectKey), not both")
	}
	if f.Path != "" {
		item[attrPath] = store.S(f.Path)
	}
	if f.Key != "" {
		item[attrKey] = store.S(f.Key)
	}
	if !f.Until.IsZero() {
		item[attrUntil] = store.N(f.Until.UnixMilli())
		item[attrTTL] = store.N(f.Until.Add(time.Hour).Unix())
	}
	if _, err := db.PutItem(store.Machinery(ctx), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		return fmt.Errorf("faults: set %s: %w", function, err)
	}
	return nil
}

// Get returns the fault switched on for function (for key, if not ""), as
// Set stored it, or nil for none: a test's way to see that a keyed crash
// happened (the crash clears it).
func Get(ctx context.Context, db store.DB, table, function, key string) (*Fault, error) {
	return get(ctx, db, table, function, key)
}

// Clear switches function's fault off (within a second, as Set).
func Clear(ctx context.Context, db store.DB, table, function string) error {
	return ClearKey(ctx, db, table, function, "")
}

// ClearKey switches function's fault for key off (at once: keyed faults are
// not cached).
func ClearKey(ctx context.Context, db store.DB, table, function, key string) error {
	// Local only, as the switch's reads: a crashing function clears its
	// keyed crash through it (plan.spend).
	ctx = store.Machinery(awscalls.LocalOnly(ctx, "faults"))
	if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: itemKey(function, key)}); err != nil {
		return fmt.Errorf("faults: clear %s: %w", function, err)
	}
	return nil
}

func knownMode(mode string) bool {
	switch mode {
	case ModeError, ModeLatency, ModeCrash, ModeThrottle:
		return true
	}
	return false
}
