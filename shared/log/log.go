// Package log builds the structured JSON logger every function uses and carries it
// through a request's context, so that each line an invocation produces names the
// service and function, the request, its correlation id, its trace and whether it
// was a cold start, and never shows a secret or a whole e-mail address.
//
//	logger := log.Init("orders-create") // once, in main (shared/httpfn, stepfn... do it)
//
// Handlers then call log.FromContext(ctx), which the runtime adapters
// (httpapi.Middleware, saga steps, the event consumer, the relay, the authorizer)
// fill, through Invocation, with a logger that already carries the invocation's
// attributes:
//
//	{"time":"...","level":"INFO","msg":"request","service":"orders","function":"orders-create",
//	 "requestId":"...","correlationId":"...","traceId":"1-...","coldStart":true,...}
//
// Every line passes the redaction of redact.go: attributes named like a secret
// (password, token, authorization, cookie...) are "[redacted]", and an e-mail
// address anywhere in a string is masked (a***@example.com).
package log

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
)

// Attribute keys of every line, so that one query finds one request, one
// correlation or one trace across functions.
const (
	KeyService       = "service"
	KeyFunction      = "function"
	KeyRequestID     = "requestId"
	KeyCorrelationID = "correlationId"
	KeyTraceID       = "traceId"
	KeyColdStart     = "coldStart"
)

// Levels beyond slog's four, named as Lambda's advanced logging controls
// name them (AWS_LAMBDA_LOG_LEVEL).
const (
	LevelTrace = slog.Level(-8)
	LevelFatal = slog.Level(12)
)

// New returns a JSON logger writing to stdout, where both Lambda (CloudWatch Logs)
// and Knative (the container log) collect it, naming the service (SHOP_SERVICE)
// and function. The level is AWS_LAMBDA_LOG_LEVEL's, which Lambda sets from the
// function's ApplicationLogLevel when its log format is JSON, else LOG_LEVEL's
// (TRACE, DEBUG, INFO, WARN, ERROR or FATAL, in any case), else info. An
// unrecognised level also means info, and the logger says so once, because a typo
// should not stop a function from starting but should not go unnoticed either.
func New(function string) *slog.Logger {
	name, value := levelSetting(os.Getenv)
	return newLogger(os.Stdout, os.Getenv("SHOP_SERVICE"), function, name, value)
}

// levelSetting is the variable the level comes from, and its value.
func levelSetting(getenv func(string) string) (name, value string) {
	for _, name := range []string{"AWS_LAMBDA_LOG_LEVEL", "LOG_LEVEL"} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return name, v
		}
	}
	return "LOG_LEVEL", ""
}

func newLogger(w io.Writer, service, function, levelVar, levelName string) *slog.Logger {
	level, known := parseLevel(levelName)
	attrs := make([]any, 0, 2)
	if service != "" {
		attrs = append(attrs, slog.String(KeyService, service))
	}
	attrs = append(attrs, slog.String(KeyFunction, function))
	logger := slog.New(NewHandler(w, level)).With(attrs...)
	if !known {
		logger.Warn("unknown log level, logging at info", slog.String(levelVar, levelName))
	}
	return logger
}

// NewHandler is the JSON handler every logger of the shop uses: level names as
// Lambda's (TRACE and FATAL included) and the redaction of redact.go.
func NewHandler(w io.Writer, level slog.Leveler) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: replaceAttr})
}

// parseLevel reports known=false only for a non-empty name it does not recognise;
// an empty name is the documented way to ask for the default.
func parseLevel(name string) (level slog.Level, known bool) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "trace":
		return LevelTrace, true
	case "debug":
		return slog.LevelDebug, true
	case "info", "":
		return slog.LevelInfo, true
	case "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	case "fatal":
		return LevelFatal, true
	default:
		return slog.LevelInfo, false
	}
}

// levelName names the two levels slog has no name for as Lambda does.
func levelName(l slog.Level) string {
	switch l {
	case LevelTrace:
		return "TRACE"
	case LevelFatal:
		return "FATAL"
	}
	return l.String()
}

// Init returns New(function) and makes it slog's default logger, so that
// code logging through slog's package functions (the runtime adapters, the
// event consumer, libraries) writes the same JSON lines, with the
// function's name, as the request loggers do. A function's wiring calls it
// once, first thing.
func Init(function string) *slog.Logger {
	logger := New(function)
	slog.SetDefault(logger)
	return logger
}

type contextKey struct{}

// WithContext returns a copy of ctx carrying l, for FromContext further down.
func WithContext(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, contextKey{}, l)
}

// FromContext returns the logger stored by WithContext. Code that runs outside a
// request (tests, start-up) still gets a usable logger, slog.Default, rather than
// nil, so callers never need to check.
func FromContext(ctx context.Context) *slog.Logger {
	if ctx != nil {
		if l, ok := ctx.Value(contextKey{}).(*slog.Logger); ok && l != nil {
			return l
		}
	}
	return slog.Default()
}

// Fields are what every line of one invocation carries.
type Fields struct {
	// RequestID is the HTTP request id (API Gateway's on Lambda) of an HTTP
	// function, the Lambda request id (lambdacontext) of any other invocation.
	RequestID     string
	CorrelationID string
	// TraceID is tracing.TraceID of the invocation's context ("" untraced).
	TraceID   string
	ColdStart bool
}

// Invocation returns ctx carrying a logger that is ctx's (FromContext) with
// f's attributes, and that logger. The runtime adapters call it once per
// invocation, after tracing.Invocation, so that the trace id is known.
// Called again inside an invocation (an event consumer, per event of its
// batch: its correlation and trace), it starts again from the logger the
// first call started from, so that no key appears twice in a line.
func Invocation(ctx context.Context, f Fields) (context.Context, *slog.Logger) {
	base := FromContext(ctx)
	if inv, ok := ctx.Value(invocationKey{}).(invocation); ok {
		base = inv.base
	}
	// base.With(attrs...) without the boxing of each attribute into an any
	// and its unboxing into a new slice: the same logger, seven fewer
	// allocations on every request and event (BenchmarkEdge).
	l := slog.New(base.Handler().WithAttrs([]slog.Attr{
		slog.String(KeyRequestID, f.RequestID),
		slog.String(KeyCorrelationID, f.CorrelationID),
		slog.String(KeyTraceID, f.TraceID),
		slog.Bool(KeyColdStart, f.ColdStart),
	}))
	ctx = context.WithValue(ctx, invocationKey{}, invocation{base: base, fields: f})
	return WithContext(ctx, l), l
}

// InvocationFields returns the fields Invocation put in ctx.
func InvocationFields(ctx context.Context) (Fields, bool) {
	inv, ok := ctx.Value(invocationKey{}).(invocation)
	return inv.fields, ok
}

type invocationKey struct{}

type invocation struct {
	base   *slog.Logger
	fields Fields
}

// coldStartClaimed is process state by nature: a cold start is a property of the
// process, not of any value a caller could hold.
var coldStartClaimed atomic.Bool

// ColdStart reports true to exactly one caller in the process, the first, and false
// to every later one. A process's first request is the one that paid for its start,
// so the runtime adapters call this once per invocation and log (and count) the
// answer; calling it anywhere else would steal the answer from the first request.
func ColdStart() bool {
	return coldStartClaimed.CompareAndSwap(false, true)
}
