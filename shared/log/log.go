// Package log builds the structured JSON logger every function uses and carries it
// through a request's context, so that each line a request produces names the
// function, the request, its correlation id and whether it was a cold start.
//
//	logger := log.New("orders-create") // once, in main
//
// Handlers then call log.FromContext(ctx), which httpapi.Middleware (and the other
// runtime adapters) fill with a logger that already carries the request's attributes.
package log

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
)

// New returns a JSON logger writing to stdout, where both Lambda (CloudWatch Logs)
// and Knative (the container log) collect it. The level comes from LOG_LEVEL
// (debug, info, warn or error, in any case); unset means info. An unrecognised
// level also means info, and the logger says so once, because a typo in LOG_LEVEL
// should not stop a function from starting but should not go unnoticed either.
func New(function string) *slog.Logger {
	return newLogger(os.Stdout, function, os.Getenv("LOG_LEVEL"))
}

func newLogger(w io.Writer, function, levelName string) *slog.Logger {
	level, known := parseLevel(levelName)
	logger := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})).
		With(slog.String("function", function))
	if !known {
		logger.Warn("unknown LOG_LEVEL, logging at info", slog.String("LOG_LEVEL", levelName))
	}
	return logger
}

// parseLevel reports known=false only for a non-empty name it does not recognise;
// an empty name is the documented way to ask for the default.
func parseLevel(name string) (level slog.Level, known bool) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "debug":
		return slog.LevelDebug, true
	case "info", "":
		return slog.LevelInfo, true
	case "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	default:
		return slog.LevelInfo, false
	}
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

// coldStartClaimed is process state by nature: a cold start is a property of the
// process, not of any value a caller could hold.
var coldStartClaimed atomic.Bool

// ColdStart reports true to exactly one caller in the process, the first, and false
// to every later one. A process's first request is the one that paid for its start,
// so the runtime adapters call this once per request and log the answer; calling it
// anywhere else would steal the answer from the first request.
func ColdStart() bool {
	return coldStartClaimed.CompareAndSwap(false, true)
}
