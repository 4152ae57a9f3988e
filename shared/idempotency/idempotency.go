// Package idempotency makes unsafe HTTP operations safe to retry with an
// Idempotency-Key header, following Powertools for AWS Lambda's DynamoDB
// model: one conditional PutItem takes a lock on the key, the handler runs,
// and the response is stored so a retry gets the same answer.
//
//	h = idempotency.New(db, table, idempotency.Options{Scope: "inventory-adjust-stock", Required: true}).Wrap(h)
//
// A key belongs to its caller: the record is found by the operation (Scope),
// the caller and the key. The caller is the principal shared/auth verified before
// this middleware runs (principal.ID: issuer and subject) or, for an
// anonymous request, the client's address (runtime.ClientIP). Two callers
// who pick the same key never see each other's answer. Anonymous clients
// behind one address share one namespace, so keys should be random (a
// UUID), and an anonymous client whose address changes between attempts
// starts afresh: its retry runs the operation again.
//
// Outcomes for a request carrying a key:
//   - first time for this caller: the handler runs; a 2xx or 3xx response
//     is stored for TTL (24 h by default); a 4xx, a 5xx (or a panic)
//     releases the key so a retry can run the operation again. A 4xx is a
//     refusal: the operation did not happen, and a request refused for its
//     input must leave nothing behind (as Stripe saves no result for a
//     request that failed validation); the client may fix it and retry;
//   - the same key and the same request again from the same caller: the
//     stored response, marked with the header Idempotent-Replayed: true;
//   - the same key with a different request (method, path, query or body,
//     secret fields aside): 422;
//   - the same key while the first request still runs: 409 with Retry-After;
//   - a body over httpapi.MaxBodyBytes, or, for an operation with secret
//     fields, a body that is not a JSON object: the handler runs and refuses
//     it (413, 400); nothing is stored.
//
// Secrets are never fingerprinted. The record lives for a day in the table
// (longer in its backups), and a hash of a body holding a password would let
// anyone who reads it guess the password offline at the speed of SHA-256.
// An operation therefore names its secret fields (Options.SecretFields;
// register: "password"), which are left out of the fingerprint; the record
// then holds nothing derived from them (the handler's response must not
// echo them either). The trade-off: a retry with the same key that changes
// only a secret is "the same request" and replays the first answer.
//
// Every write of the record is safe to retry (shared/store's conditional
// writes): a response DynamoDB applied but the client never read does not
// turn the first request into a 409 against itself.
//
// Records live in the service's own table (the users or inventory table), so
// no service reads another's data and TTL cleans them up.
package idempotency

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/principal"
	"github.com/shop-serverless/shop/shared/runtime"
	"github.com/shop-serverless/shop/shared/store"
)

// HeaderReplayed marks a replayed answer (the key's header is
// httpapi.HeaderIdempotencyKey).
const HeaderReplayed = "Idempotent-Replayed"

const (
	statusInProgress = store.ClaimInProgress
	statusCompleted  = "COMPLETED"
	maxKeyLen        = 255
)

// replayedHeaders are the response headers worth storing and replaying.
var replayedHeaders = []string{"Content-Type", "Location", "ETag"}

// Options configure a Middleware.
type Options struct {
	// Scope namespaces keys, normally the function name, so one key used on
	// two operations cannot collide.
	Scope string
	// Required makes a missing key a 400: for operations that are not
	// naturally idempotent (a stock delta applied twice is two deltas).
	Required bool
	// TTL is how long a completed response is kept (default 24 h).
	TTL time.Duration
	// LockTimeout is how long an in-progress lock holds before another
	// request may take it over, when the request context has no deadline
	// (default 30 s). On Lambda the invocation deadline is used instead: a
	// crashed invocation must not block the key for longer than it could run.
	LockTimeout time.Duration
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// SecretFields names the top-level fields of the JSON request body
	// that hold secrets (register: "password"), matched as encoding/json
	// matches field names (case-insensitively). They never reach the
	// fingerprint, so the stored record holds nothing derived from them.
	// The rest of the body is fingerprinted as its fields, so whitespace
	// and field order no longer tell two requests apart.
	SecretFields []string
}

// Middleware guards a handler with the Idempotency-Key header, keeping its
// records in a DynamoDB table with pk/sk keys and a ttl attribute.
type Middleware struct {
	db    store.DB
	table string
	opts  Options
}

// New returns a Middleware writing its records to table.
func New(db store.DB, table string, opts Options) *Middleware {
	if opts.TTL == 0 {
		opts.TTL = 24 * time.Hour
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	// Its keys and records are the platform's bookkeeping, never the
	// function's change (store.Machinery).
	return &Middleware{db: store.MachineryDB(db), table: table, opts: opts}
}

// record is the stored item.
type record struct {
	PK         string      `dynamodbav:"pk"`
	SK         string      `dynamodbav:"sk"`
	Status     string      `dynamodbav:"status"`
	Hash       string      `dynamodbav:"requestHash"`
	Lock       string      `dynamodbav:"lock,omitempty"`
	Expiry     int64       `dynamodbav:"ttl"`                // epoch seconds; DynamoDB TTL deletes it eventually
	LockExpiry int64       `dynamodbav:"lockExpiry"`         // epoch milliseconds
	Response   *storedResp `dynamodbav:"response,omitempty"` // set once completed
}

type storedResp struct {
	Status int               `dynamodbav:"status"`
	Header map[string]string `dynamodbav:"header"`
	Body   []byte            `dynamodbav:"body"`
}

// Wrap returns next guarded by the Idempotency-Key header.
func (s *Middleware) Wrap(next http.Handler) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		key := r.Header.Get(httpapi.HeaderIdempotencyKey)
		if key == "" {
			if s.opts.Required {
				return httpapi.Errorf(http.StatusBadRequest, "the %s header is required for this operation", httpapi.HeaderIdempotencyKey)
			}
			next.ServeHTTP(w, r)
			return nil
		}
		if len(key) > maxKeyLen || !printable(key) {
			return httpapi.Errorf(http.StatusBadRequest, "the %s header must be 1 to %d printable ASCII characters", httpapi.HeaderIdempotencyKey, maxKeyLen)
		}

		// Read the body once to fingerprint the request; the handler reads
		// the copy. Past the decoder's limit there is nothing to protect:
		// the handler answers 413.
		body, err := io.ReadAll(io.LimitReader(r.Body, httpapi.MaxBodyBytes+1))
		if err != nil {
			return httpapi.Errorf(http.StatusBadRequest, "could not read the request body")
		}
		if len(body) > httpapi.MaxBodyBytes {
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
			next.ServeHTTP(w, r)
			return nil
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if len(s.opts.SecretFields) > 0 {
			var ok bool
			if body, ok = withoutSecrets(body, s.opts.SecretFields); !ok {
				// Not a JSON object: the handler answers 400, which is not
				// worth replaying, and a body the filter cannot read may
				// still hold the secret.
				next.ServeHTTP(w, r)
				return nil
			}
		}
		pk := "IDEMPOTENCY#" + s.opts.Scope + "#" + lengthPrefixed(callerOf(r)) + "#" + key
		return s.serve(w, r, pk, key, fingerprint(r, body), next)
	})
}

// callerOf names who sent r: the principal shared/auth verified, or for an
// anonymous request the client's address. The prefixes keep the two kinds
// apart, whatever an issuer is called.
func callerOf(r *http.Request) string {
	if p, ok := principal.FromContext(r.Context()); ok {
		return "principal:" + p.ID()
	}
	return "anonymous:" + runtime.ClientIP(r)
}

// lengthPrefixed makes s unambiguous inside a key that continues after it:
// a caller cannot end in something that reads as another caller's key.
func lengthPrefixed(s string) string { return strconv.Itoa(len(s)) + ":" + s }

// withoutSecrets returns body's fields but the secret ones, encoded again
// (keys sorted, so the same fields give the same bytes), or ok false when
// body is not a JSON object. Every field encoding/json would decode into a
// secret is removed: a name that differs only in case, and duplicates.
func withoutSecrets(body []byte, secrets []string) (_ []byte, ok bool) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return nil, false
	}
	for name := range fields {
		for _, secret := range secrets {
			if strings.EqualFold(name, secret) {
				delete(fields, name)
			}
		}
	}
	out, err := json.Marshal(fields)
	if err != nil {
		return nil, false
	}
	return out, true
}

func (s *Middleware) serve(w http.ResponseWriter, r *http.Request, pk, key, hash string, next http.Handler) error {
	ctx := r.Context()
	lock := newLock()
	existing, first, err := s.acquire(ctx, pk, hash, lock)
	if err != nil {
		return err
	}
	if existing != nil {
		return replayOrRefuse(w, existing, hash)
	}
	if first {
		r = r.WithContext(WithFirstAttempt(ctx))
	}

	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	completed := false
	defer func() {
		if !completed {
			// The handler failed or panicked: release the key so the client's
			// retry runs the operation again rather than meeting a 409 until
			// the lock times out. A background context: the request's may be
			// cancelled already.
			s.release(context.WithoutCancel(ctx), pk, lock)
		}
	}()
	next.ServeHTTP(rec, r)
	if rec.status >= 400 {
		return nil // refused or failed: the deferred release frees the key
	}
	if err := s.complete(ctx, pk, lock, rec); err != nil {
		// The response went out already; the record stays in progress until
		// the lock times out, after which a retry runs again. Log, don't fail.
		log.FromContext(ctx).Error("idempotency: store response", "key", key, "error", err)
	}
	completed = true
	return nil
}

// acquire takes the key with a single conditional PutItem (store.PutClaim,
// which draws the race it settles): B, finding A's record in progress,
// answers 409 without a second read.
func (s *Middleware) acquire(ctx context.Context, pk, hash, lock string) (_ *record, first bool, _ error) {
	now := s.opts.Now()
	lockExpiry := now.Add(s.opts.LockTimeout)
	if deadline, ok := ctx.Deadline(); ok {
		lockExpiry = deadline.Add(time.Second) // a little slack for clock skew between instances
	}
	item, err := attributevalue.MarshalMap(record{
		PK: pk, SK: "IDEMPOTENCY", Status: statusInProgress, Hash: hash, Lock: lock,
		Expiry:     now.Add(s.opts.TTL).Unix(),
		LockExpiry: lockExpiry.UnixMilli(),
	})
	if err != nil {
		return nil, false, fmt.Errorf("idempotency: marshal: %w", err)
	}
	old, err := store.PutNewClaim(ctx, s.db, s.table, item, now)
	if err != nil {
		return nil, false, fmt.Errorf("idempotency: acquire: %w", err)
	}
	if old == nil {
		return nil, true, nil
	}
	if store.Claimable(old, now) {
		// An earlier attempt's record that may be taken over: its TTL has
		// passed, or its holder died holding the lock, perhaps after doing
		// part of the work. The takeover is conditional as the first claim
		// is: of two requests taking it over, one wins.
		if old, err = store.PutClaim(ctx, s.db, s.table, item, now); err != nil {
			return nil, false, fmt.Errorf("idempotency: acquire: %w", err)
		}
		if old == nil {
			return nil, false, nil
		}
	}
	var rec record
	if err := attributevalue.UnmarshalMap(old, &rec); err != nil {
		return nil, false, fmt.Errorf("idempotency: unmarshal existing record: %w", err)
	}
	return &rec, false, nil
}

func replayOrRefuse(w http.ResponseWriter, rec *record, hash string) error {
	switch {
	case rec.Hash != hash:
		return httpapi.Errorf(http.StatusUnprocessableEntity, "this %s was already used with a different request", httpapi.HeaderIdempotencyKey)
	case rec.Status != statusCompleted || rec.Response == nil:
		e := httpapi.Errorf(http.StatusConflict, "a request with this %s is still in progress; retry later", httpapi.HeaderIdempotencyKey)
		e.Header = http.Header{"Retry-After": []string{"1"}}
		return e
	}
	for k, v := range rec.Response.Header {
		w.Header().Set(k, v)
	}
	w.Header().Set(HeaderReplayed, "true")
	w.WriteHeader(rec.Response.Status)
	_, _ = w.Write(rec.Response.Body)
	return nil
}

// complete stores the response, but only while we still hold the lock: if
// our lock timed out and another invocation took the key over, its record wins.
// A retry of this update finds the lock removed by its own first attempt;
// store.ConditionalUpdate recognises that attempt by its write token.
func (s *Middleware) complete(ctx context.Context, pk, lock string, rec *recorder) error {
	header := map[string]string{}
	for _, h := range replayedHeaders {
		if v := rec.Header().Get(h); v != "" {
			header[h] = v
		}
	}
	resp, err := attributevalue.Marshal(storedResp{Status: rec.status, Header: header, Body: rec.body.Bytes()})
	if err != nil {
		return fmt.Errorf("marshal response: %w", err)
	}
	_, err = store.ConditionalUpdate(ctx, s.db, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 store.Key(pk, "IDEMPOTENCY"),
		UpdateExpression:    aws.String("SET #status = :completed, #response = :response REMOVE #lock"),
		ConditionExpression: aws.String("#lock = :lock"),
		ExpressionAttributeNames: map[string]string{
			"#status": "status", "#response": "response", "#lock": "lock",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":completed": store.S(statusCompleted),
			":response":  resp,
			":lock":      store.S(lock),
		},
	})
	if store.IsConditionFailed(err) {
		return errors.New("lock lost to a later invocation")
	}
	return err
}

// release deletes the record while it still holds our lock. A retry finds
// the record gone (store.ConditionalDelete: done); a record with another
// lock is someone else's and stays.
func (s *Middleware) release(ctx context.Context, pk, lock string) {
	err := store.ConditionalDelete(ctx, s.db, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       store.Key(pk, "IDEMPOTENCY"),
		ConditionExpression:       aws.String("#lock = :lock"),
		ExpressionAttributeNames:  map[string]string{"#lock": "lock"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":lock": store.S(lock)},
	})
	if err != nil && !store.IsConditionFailed(err) {
		log.FromContext(ctx).Error("idempotency: release key", "pk", pk, "error", err)
	}
}

// fingerprint identifies "the same request" of one caller (the record's key
// holds the caller): method, path, query and body (secret fields already
// removed).
func fingerprint(r *http.Request, body []byte) string {
	h := sha256.New()
	for _, part := range []string{r.Method, r.URL.Path, r.URL.RawQuery} {
		h.Write([]byte(lengthPrefixed(part)))
	}
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

func newLock() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// recorder passes the response through and keeps a copy to store.
type recorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if r.wroteHeader {
		return
	}
	r.wroteHeader = true
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

type firstAttemptKey struct{}

// WithFirstAttempt marks ctx's request as the first to use its key (the
// middleware does; a handler's tests may).
func WithFirstAttempt(ctx context.Context) context.Context {
	return context.WithValue(ctx, firstAttemptKey{}, true)
}

// FirstAttempt reports a request whose Idempotency-Key had no record: no
// earlier request with the key is in progress, completed, or died holding
// it, so a handler may skip looking for what such an attempt left behind
// (orders-create skips its read of the order, one round trip). It is
// false without the middleware, and when an earlier attempt's record was
// taken over. An earlier attempt that failed released its key, and
// DynamoDB deletes a record some time after its TTL: after those the next
// request is a first attempt again, so a handler must still meet an
// earlier attempt's writes safely (conditions, not reads, decide).
func FirstAttempt(ctx context.Context) bool {
	v, _ := ctx.Value(firstAttemptKey{}).(bool)
	return v
}
