package log

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// decodeLines parses every JSON line written to buf, failing the test on any line
// that is not a JSON object, since the log pipeline depends on that.
func decodeLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, raw := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if raw == "" {
			continue
		}
		var line map[string]any
		if err := json.Unmarshal([]byte(raw), &line); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", raw, err)
		}
		lines = append(lines, line)
	}
	return lines
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		name      string
		want      slog.Level
		wantKnown bool
	}{
		{"", slog.LevelInfo, true},
		{"debug", slog.LevelDebug, true},
		{"DEBUG", slog.LevelDebug, true},
		{" info ", slog.LevelInfo, true},
		{"warn", slog.LevelWarn, true},
		{"error", slog.LevelError, true},
		{"TRACE", LevelTrace, true},
		{"Fatal", LevelFatal, true},
		{"verbose", slog.LevelInfo, false},
		{"warning", slog.LevelInfo, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, known := parseLevel(tt.name)
			if got != tt.want || known != tt.wantKnown {
				t.Errorf("parseLevel(%q) = %v, %v; want %v, %v", tt.name, got, known, tt.want, tt.wantKnown)
			}
		})
	}
}

func TestNewLoggerLevelAndAttributes(t *testing.T) {
	tests := []struct {
		level       string
		wantDebug   bool
		wantInfo    bool
		wantWarning bool // the "unknown LOG_LEVEL" line
	}{
		{level: "", wantInfo: true},
		{level: "debug", wantDebug: true, wantInfo: true},
		{level: "error"},
		{level: "loud", wantInfo: true, wantWarning: true},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			var buf bytes.Buffer
			logger := newLogger(&buf, "orders", "orders-create", "LOG_LEVEL", tt.level)
			logger.Debug("debug line")
			logger.Info("info line")

			seen := map[string]bool{}
			for _, line := range decodeLines(t, &buf) {
				if line["function"] != "orders-create" {
					t.Errorf("line %v lacks function=orders-create", line)
				}
				seen[line["msg"].(string)] = true
			}
			if seen["debug line"] != tt.wantDebug {
				t.Errorf("debug line logged = %v, want %v", seen["debug line"], tt.wantDebug)
			}
			if seen["info line"] != tt.wantInfo {
				t.Errorf("info line logged = %v, want %v", seen["info line"], tt.wantInfo)
			}
			if got := seen["unknown log level, logging at info"]; got != tt.wantWarning {
				t.Errorf("unknown-level warning logged = %v, want %v", got, tt.wantWarning)
			}
		})
	}
}

func TestNewReadsLogLevel(t *testing.T) {
	t.Setenv("AWS_LAMBDA_LOG_LEVEL", "")
	t.Setenv("LOG_LEVEL", "error")
	if New("f").Enabled(context.Background(), slog.LevelWarn) {
		t.Error("LOG_LEVEL=error: warn is enabled")
	}
	t.Setenv("LOG_LEVEL", "debug")
	if !New("f").Enabled(context.Background(), slog.LevelDebug) {
		t.Error("LOG_LEVEL=debug: debug is disabled")
	}
}

func TestFromContext(t *testing.T) {
	custom := slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))
	var nilCtx context.Context
	tests := []struct {
		name string
		ctx  context.Context
		want *slog.Logger
	}{
		{"stored logger", WithContext(context.Background(), custom), custom},
		{"empty context", context.Background(), slog.Default()},
		{"nil logger stored", WithContext(context.Background(), nil), slog.Default()},
		{"nil context", nilCtx, slog.Default()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FromContext(tt.ctx); got != tt.want {
				t.Errorf("FromContext() = %p, want %p", got, tt.want)
			}
		})
	}
}

func TestColdStartIsTrueExactlyOnce(t *testing.T) {
	coldStartClaimed.Store(false) // other runs of this test in the same process (-count=N)
	const callers = 64
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		trues int
	)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ColdStart() {
				mu.Lock()
				trues++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if trues != 1 {
		t.Fatalf("ColdStart returned true %d times across %d concurrent callers, want 1", trues, callers)
	}
	if ColdStart() {
		t.Fatal("ColdStart returned true after the first call")
	}
}
