package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/metrics"
	"github.com/shop-serverless/shop/shared/tracing"
)

// Header names the edge reads and the service client sends.
const (
	HeaderRequestID     = "X-Request-Id"
	HeaderCorrelationID = "X-Correlation-Id"
	// HeaderIdempotencyKey makes an unsafe request safe to retry (IETF
	// draft-ietf-httpapi-idempotency-key-header; see shared/idempotency).
	HeaderIdempotencyKey = "Idempotency-Key"
)

type contextKey int

const (
	requestIDKey contextKey = iota
	correlationIDKey
)

// RequestID returns the id of the request being served: API Gateway's request id on
// Lambda (passed on by the runtime adapter as X-Request-Id), otherwise the caller's
// X-Request-Id or a new UUID. Empty outside Middleware.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// CorrelationID returns the id that ties together everything one user action caused,
// across services and events. Empty outside Middleware.
func CorrelationID(ctx context.Context) string {
	id, _ := ctx.Value(correlationIDKey).(string)
	return id
}

// WithRequestID returns ctx carrying id, for code that serves work arriving other
// than through Middleware (events, saga steps) and for tests.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// WithCorrelationID returns ctx carrying id; an event consumer uses it to continue
// the correlation its event carried.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationIDKey, id)
}

// Middleware wraps next with what every request needs before the handler runs and
// after it returns:
//
//   - a correlation id: X-Correlation-Id when it is 1 to 128 characters of
//     [A-Za-z0-9._:-] (anything else could be used to forge or flood log fields),
//     otherwise a new UUID;
//   - a request id: X-Request-Id when it is 1 to 128 printable ASCII characters
//     (API Gateway's ids contain '=' and '+'), otherwise a new UUID;
//   - both echoed as response headers and stored in the context, with a logger
//     carrying requestId, correlationId, traceId (of the span tracing.Invocation
//     began around this handler, in r's context) and coldStart (log.Invocation);
//   - a panic logged with its stack and answered with a 500 problem; if the response
//     had already started, the connection is aborted (http.ErrAbortHandler) so the
//     client cannot mistake a truncated body for a complete one;
//   - one access log line at the end: method, path (never the query, which may hold
//     tokens), status, bytes, durationMs; and the invocation's metrics
//     (metrics.Invocation: Errors counts a 5xx answer, or none).
//
// The ResponseWriter the handler gets implements http.Flusher and Unwrap, so
// http.NewResponseController reaches the original writer for Hijack, deadlines and
// the like; it does not itself implement http.Hijacker or io.ReaderFrom.
func Middleware(logger *slog.Logger, next http.Handler) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		correlationID := r.Header.Get(HeaderCorrelationID)
		if !validCorrelationID(correlationID) {
			correlationID = uuid.NewString()
		}
		requestID := r.Header.Get(HeaderRequestID)
		if !validRequestID(requestID) {
			requestID = uuid.NewString()
		}
		w.Header().Set(HeaderCorrelationID, correlationID)
		w.Header().Set(HeaderRequestID, requestID)

		coldStart := log.ColdStart()
		invocation := metrics.Begin(coldStart)
		ctx, reqLogger := log.Invocation(log.WithContext(r.Context(), logger), log.Fields{
			RequestID: requestID, CorrelationID: correlationID,
			TraceID: tracing.TraceID(r.Context()), ColdStart: coldStart,
		})
		ctx = WithCorrelationID(WithRequestID(ctx, requestID), correlationID)
		r = r.WithContext(ctx)
		rec := &recorder{ResponseWriter: w, req: r}

		defer func() {
			p := recover()
			abort := false
			if p != nil {
				abort = handlePanic(rec, r, reqLogger, p)
			}
			status := rec.status
			if status == 0 && !abort {
				status = http.StatusOK // what net/http sends for a handler that wrote nothing
			}
			reqLogger.LogAttrs(ctx, slog.LevelInfo, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Int64("bytes", rec.bytes),
				slog.Float64("durationMs", float64(time.Since(start).Microseconds())/1000),
			)
			failed := 0
			if status >= 500 || status == 0 { // 0: aborted without an answer
				failed = 1
			}
			invocation.End(failed)
			if abort {
				panic(http.ErrAbortHandler)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// handlePanic reports whether the connection must be aborted because a response
// cannot be sent any more.
func handlePanic(rec *recorder, r *http.Request, logger *slog.Logger, p any) (abort bool) {
	if p == http.ErrAbortHandler { // the handler's own way of aborting: not a bug
		return true
	}
	logger.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
		slog.Any("panic", p),
		slog.String("stack", string(debug.Stack())),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
	)
	if rec.wroteHeader {
		return true
	}
	writeProblem(rec, r, &Error{Status: http.StatusInternalServerError, Title: internalTitle, Detail: internalDetail})
	return false
}

func validCorrelationID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := range len(id) {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := range len(id) {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// recorder remembers the status and size of the response for the access log, and
// whether it has started, so that WriteError does not try to send a second status.
type recorder struct {
	http.ResponseWriter
	req         *http.Request // the request as the handler sees it, ids in its context
	status      int
	bytes       int64
	wroteHeader bool
}

func (rec *recorder) WriteHeader(code int) {
	// 1xx other than 101 are interim responses (103 Early Hints): the final status
	// is still to come.
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		rec.ResponseWriter.WriteHeader(code)
		return
	}
	if !rec.wroteHeader {
		rec.wroteHeader = true
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code) // a second call is net/http's to complain about
}

func (rec *recorder) Write(b []byte) (int, error) {
	if !rec.wroteHeader {
		rec.WriteHeader(http.StatusOK)
	}
	n, err := rec.ResponseWriter.Write(b)
	rec.bytes += int64(n)
	return n, err
}

// Flush keeps streaming handlers working: many check for http.Flusher directly.
func (rec *recorder) Flush() {
	if !rec.wroteHeader {
		rec.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(rec.ResponseWriter).Flush()
}

// Unwrap is what http.ResponseController looks for.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// responseStarted looks through wrappers (anything with Unwrap) for a recorder.
// Without one there is no way to know, and writing is the better guess.
func responseStarted(w http.ResponseWriter) bool {
	for w != nil {
		if rec, ok := w.(*recorder); ok {
			return rec.wroteHeader
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return false
		}
		w = u.Unwrap()
	}
	return false
}

// requestOf finds the request a recorder belongs to, for WriteJSON, which is not
// given one but should still log and answer with the request's ids.
func requestOf(w http.ResponseWriter) *http.Request {
	for w != nil {
		if rec, ok := w.(*recorder); ok {
			return rec.req
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
	return nil
}
