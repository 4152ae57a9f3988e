// Package httpapi is the HTTP edge every HTTP function shares: it decodes and
// validates JSON requests, turns errors into problem+json responses (RFC 9457) that
// never carry internal details, and gives each request a request id, a correlation
// id and a logger that carries both.
//
//	h := httpapi.Middleware(logger, inventory.Get(st)) // shared/httpfn does this wiring
//
// A handler returns an error instead of writing one. Domain errors become an *Error
// at the edge, where the status code belongs: each service maps its own in one table
// (shared/errmap, in its errors.go):
//
//	func Get(st *Store) http.Handler {
//		return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
//			id, err := httpapi.PathID(r, "id", "product") // a 404 *Error for a malformed id
//			if err != nil {
//				return err
//			}
//			p, err := st.Get(r.Context(), id)
//			if err != nil {
//				return errs.HTTP(err) // ErrNotFound -> 404; anything else: 500, logged, never shown
//			}
//			httpapi.WriteVersioned(w, http.StatusOK, p.Version, p)
//			return nil
//		})
//	}
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"

	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/problem"
)

// Error is an error with an HTTP status: what a handler returns when the client, not
// the server, should hear about it. Everything but Err is sent to the client, so
// Detail and Fields must be safe to show; Err is only logged.
type Error struct {
	Status int                  // 4xx or 5xx; anything else is sent as 500
	Type   string               // problem type URI; empty means "about:blank"
	Title  string               // empty means http.StatusText(Status)
	Detail string               // safe, human-readable
	Fields []problem.FieldError // per-field problems, for validation errors
	Header http.Header          // extra response headers (Retry-After, Allow...), may be nil
	Err    error                // the cause: logged, never sent
}

// Errorf returns an *Error whose Detail is the formatted message. The message goes
// to the client, so %w has no special meaning here: set Err to keep a cause.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Detail: fmt.Sprintf(format, args...)}
}

// Error includes the cause, so it is for logs only; responses are built from the
// fields, never from this string.
func (e *Error) Error() string {
	if e == nil {
		return "httpapi: <nil> *Error"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", e.status(), e.title())
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// status guards against an *Error built with a success or nonsense status, which
// would otherwise tell the client an error was a success.
func (e *Error) status() int {
	if e.Status < 400 || e.Status > 599 {
		return http.StatusInternalServerError
	}
	return e.Status
}

func (e *Error) title() string {
	if e.Title != "" {
		return e.Title
	}
	if t := http.StatusText(e.status()); t != "" {
		return t
	}
	return "Error"
}

// HandlerFunc is an http.Handler that returns its error instead of writing it, so
// that every failure path ends in WriteError and none can forget to log or leak.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

func (f HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := f(w, r); err != nil {
		WriteError(w, r, err)
	}
}

const (
	internalTitle  = "Internal Server Error"
	internalDetail = "an unexpected error occurred"
)

// WriteJSON writes v as JSON with the given status. v is encoded before anything is
// written, so an unencodable value becomes a clean 500 problem rather than half a
// body under a success status. Statuses that forbid a body (1xx, 204, 304) get
// none, whatever v is.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	if status < 200 || status == http.StatusNoContent || status == http.StatusNotModified {
		w.WriteHeader(status)
		return
	}
	body, err := json.Marshal(v)
	if err != nil {
		r := requestOf(w)
		e := &Error{Status: http.StatusInternalServerError, Title: internalTitle, Detail: internalDetail,
			Err: fmt.Errorf("httpapi: encoding %T response: %w", v, err)}
		logFailure(r, e, e)
		writeProblem(w, r, e)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n')) // a failed write means the client has gone; nobody to tell
}

// WriteError writes err as a problem response and logs it with the request's logger
// (log.FromContext): at error level for a 5xx, at info for a 4xx.
//
//   - an *Error anywhere in err's chain (errors.As) is sent with its status, detail,
//     fields and headers;
//   - an *http.MaxBytesError is a 413;
//   - anything else is a 500 whose body says only "an unexpected error occurred".
//
// If the response has already started (known when w comes from Middleware), the
// status can no longer change, so the error is only logged.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	if r == nil {
		r = requestOf(w)
	}
	e := asError(err)
	logFailure(r, e, err)
	if responseStarted(w) {
		loggerOf(r).LogAttrs(contextOf(r), slog.LevelError, "response already started; problem not sent",
			slog.Int("status", e.status()))
		return
	}
	writeProblem(w, r, e)
}

// asError decides what the client may learn about err.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) && e != nil {
		return e
	}
	if throttled(err) {
		// An AWS service (DynamoDB, mostly) refused the work for now and the
		// SDK's retries are spent: the request may succeed in a moment, so
		// say so, as a 503 the shared client and well-behaved callers retry
		// (a 500 they do not).
		return &Error{Status: http.StatusServiceUnavailable, Detail: "the service is busy; retry later",
			Header: http.Header{"Retry-After": []string{"1"}}, Err: err}
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return &Error{Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("request body exceeds %d bytes", tooLarge.Limit), Err: err}
	}
	if err == nil {
		err = errors.New("httpapi: WriteError called with a nil error")
	}
	return &Error{Status: http.StatusInternalServerError, Title: internalTitle, Detail: internalDetail, Err: err}
}

// logFailure logs err as returned, with the context its callers wrapped around the
// *Error, and falls back to e for a nil err.
func logFailure(r *http.Request, e *Error, err error) {
	level := slog.LevelInfo
	if e.status() >= 500 {
		level = slog.LevelError
	}
	if err == nil {
		err = e
	}
	attrs := []slog.Attr{slog.Int("status", e.status()), slog.String("error", err.Error())}
	if r != nil {
		attrs = append(attrs, slog.String("method", r.Method), slog.String("path", r.URL.Path))
	}
	if len(e.Fields) > 0 {
		attrs = append(attrs, slog.Any("fields", e.Fields))
	}
	loggerOf(r).LogAttrs(contextOf(r), level, "request failed", attrs...)
}

func writeProblem(w http.ResponseWriter, r *http.Request, e *Error) {
	p := problem.Details{
		Type:   e.Type,
		Title:  e.title(),
		Status: e.status(),
		Detail: e.Detail,
		Errors: e.Fields,
	}
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if r != nil {
		p.Instance = r.URL.Path
		p.RequestID = RequestID(r.Context())
		p.CorrelationID = CorrelationID(r.Context())
	}
	h := w.Header()
	for k, vs := range e.Header {
		h.Del(k)
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	p.Write(w)
}

func contextOf(r *http.Request) context.Context {
	if r == nil {
		return context.Background()
	}
	return r.Context()
}

func loggerOf(r *http.Request) *slog.Logger {
	return log.FromContext(contextOf(r))
}

// throttled reports an AWS API error that means "too much, slow down"
// (the SDK's own list of throttling codes).
func throttled(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	_, ok := retry.DefaultThrottleErrorCodes[api.ErrorCode()]
	return ok
}
