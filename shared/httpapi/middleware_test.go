package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/shop-serverless/shop/shared/metrics"
	"github.com/shop-serverless/shop/shared/metrics/emftest"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// idsSeen is what the handler found in its context.
type idsSeen struct{ requestID, correlationID string }

func TestMiddlewareIDs(t *testing.T) {
	const (
		keep = "keep"
		uuid = "uuid"
	)
	tests := []struct {
		name            string
		correlation     string
		requestID       string
		wantCorrelation string // keep: the header as sent; uuid: a new UUID
		wantRequestID   string
	}{
		{"both accepted", "order-42:saga.step_1", "JKJaXmPLvHcESHA=", keep, keep},
		{"both created", "", "", uuid, uuid},
		{"correlation with a space replaced", "evil id", "r-1", uuid, keep},
		{"correlation with a newline replaced", "a\nb", "r-1", uuid, keep},
		{"correlation too long replaced", strings.Repeat("a", 129), "r-1", uuid, keep},
		{"correlation at the limit kept", strings.Repeat("a", 128), "r-1", keep, keep},
		{"correlation with a slash replaced", "a/b", "r-1", uuid, keep},
		{"request id with a space replaced", "c-1", "a b", keep, uuid},
		{"request id too long replaced", "c-1", strings.Repeat("r", 129), keep, uuid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, logs := captureLogs(t)
			var seen idsSeen
			h := Middleware(logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = idsSeen{RequestID(r.Context()), CorrelationID(r.Context())}
			}))
			req := httptest.NewRequest(http.MethodGet, "/orders", nil)
			if tt.correlation != "" {
				req.Header.Set(HeaderCorrelationID, tt.correlation)
			}
			if tt.requestID != "" {
				req.Header.Set(HeaderRequestID, tt.requestID)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			check := func(what, sent, want, inContext, inHeader string) {
				t.Helper()
				if want == keep && inContext != sent {
					t.Errorf("%s = %q, want the one sent, %q", what, inContext, sent)
				}
				if want == uuid && !uuidPattern.MatchString(inContext) {
					t.Errorf("%s = %q, want a new UUID", what, inContext)
				}
				if inHeader != inContext {
					t.Errorf("%s echoed as %q, handler saw %q", what, inHeader, inContext)
				}
			}
			check("correlation id", tt.correlation, tt.wantCorrelation, seen.correlationID, rec.Header().Get(HeaderCorrelationID))
			check("request id", tt.requestID, tt.wantRequestID, seen.requestID, rec.Header().Get(HeaderRequestID))

			line := findLog(t, logs(), "request")
			if line["requestId"] != seen.requestID || line["correlationId"] != seen.correlationID {
				t.Errorf("access log %v does not carry the ids %+v", line, seen)
			}
			if _, ok := line["coldStart"].(bool); !ok {
				t.Errorf("access log %v lacks coldStart", line)
			}
		})
	}
}

func TestMiddlewareAccessLog(t *testing.T) {
	logger, logs := captureLogs(t)
	h := Middleware(logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte("hello"))
		_, _ = w.Write([]byte(" world"))
	}))
	req := httptest.NewRequest(http.MethodPost, "/orders?token=secret", nil)
	req.Header.Set(HeaderRequestID, "req-7")
	h.ServeHTTP(httptest.NewRecorder(), req)

	lines := logs()
	if len(lines) != 1 {
		t.Fatalf("logged %d lines, want exactly one access line: %v", len(lines), lines)
	}
	line := lines[0]
	want := map[string]any{"msg": "request", "level": "INFO", "method": "POST", "path": "/orders", "status": 201.0, "bytes": 11.0, "requestId": "req-7"}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("access log %s = %v, want %v", k, line[k], v)
		}
	}
	if d, ok := line["durationMs"].(float64); !ok || d < 0 {
		t.Errorf("durationMs = %v", line["durationMs"])
	}
	if strings.Contains(line["path"].(string), "secret") {
		t.Error("access log contains the query string")
	}
}

func TestMiddlewareImplicitOK(t *testing.T) {
	logger, logs := captureLogs(t)
	Middleware(logger, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if line := findLog(t, logs(), "request"); line["status"] != 200.0 || line["bytes"] != 0.0 {
		t.Errorf("access log = %v, want status 200 and 0 bytes", line)
	}
}

func TestMiddlewarePanic(t *testing.T) {
	logger, logs := captureLogs(t)
	h := Middleware(logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("nil map: " + secret)
	}))
	req := httptest.NewRequest(http.MethodGet, "/orders/o-1", nil)
	req.Header.Set(HeaderRequestID, "req-p")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
	if strings.Contains(rec.Body.String(), secret) || strings.Contains(rec.Body.String(), "nil map") {
		t.Fatalf("response leaks the panic: %s", rec.Body)
	}
	p := problemBody(t, rec)
	if p.Status != 500 || p.Title != "Internal Server Error" || p.Detail != "an unexpected error occurred" ||
		p.RequestID != "req-p" || p.Instance != "/orders/o-1" {
		t.Errorf("problem = %+v", p)
	}
	lines := logs()
	panicLine := findLog(t, lines, "panic serving request")
	if panicLine["level"] != "ERROR" || panicLine["requestId"] != "req-p" {
		t.Errorf("panic log = %v", panicLine)
	}
	if stack, _ := panicLine["stack"].(string); !strings.Contains(stack, "middleware_test.go") {
		t.Errorf("panic log stack does not show the panicking handler: %q", stack)
	}
	if access := findLog(t, lines, "request"); access["status"] != 500.0 {
		t.Errorf("access log = %v, want status 500", access)
	}
}

func TestMiddlewarePanicAfterResponseStartedAborts(t *testing.T) {
	logger, logs := captureLogs(t)
	h := Middleware(logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"partial":`))
		panic("boom")
	}))
	rec := httptest.NewRecorder()
	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler so the server drops the connection", p)
			}
		}()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	}()
	if rec.Body.String() != `{"partial":` {
		t.Errorf("body = %q: nothing may be appended to a started response", rec.Body)
	}
	lines := logs()
	findLog(t, lines, "panic serving request")
	if access := findLog(t, lines, "request"); access["status"] != 200.0 {
		t.Errorf("access log = %v", access)
	}
}

func TestMiddlewareKeepsFlusher(t *testing.T) {
	var isFlusher bool
	rec := httptest.NewRecorder()
	Middleware(nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var f http.Flusher
		f, isFlusher = w.(http.Flusher)
		if isFlusher {
			f.Flush()
		}
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController.Flush: %v", err)
		}
	})).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if !isFlusher || !rec.Flushed {
		t.Errorf("http.Flusher = %v, flushed = %v; want both", isFlusher, rec.Flushed)
	}
	if rec.Code != http.StatusOK {
		t.Errorf("status = %d", rec.Code)
	}
}

func TestMiddlewareRecordsErrorStatus(t *testing.T) {
	logger, logs := captureLogs(t)
	h := Middleware(logger, HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return errors.New(secret)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	lines := logs()
	failed := findLog(t, lines, "request failed")
	access := findLog(t, lines, "request")
	if failed["requestId"] == nil || failed["requestId"] != access["requestId"] || failed["error"] != secret {
		t.Errorf("error log %v and access log %v should share the request id and keep the real error", failed, access)
	}
	if access["status"] != 500.0 || access["bytes"].(float64) != float64(rec.Body.Len()) {
		t.Errorf("access log = %v, body %d bytes", access, rec.Body.Len())
	}
}

// Every request is one invocation line of EMF metrics; a 5xx answer is an
// error, a 4xx is not.
func TestMiddlewareEmitsInvocationMetrics(t *testing.T) {
	var buf bytes.Buffer
	defer metrics.Redirect(&buf)()
	logger, _ := captureLogs(t)
	for _, status := range []int{http.StatusOK, http.StatusNotFound, http.StatusServiceUnavailable} {
		h := Middleware(logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))
	}
	var errs []float64
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		ms, err := emftest.Validate([]byte(line))
		if err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		names := map[string]bool{}
		for _, m := range ms {
			names[m.Name] = true
			if m.Name == metrics.Errors {
				errs = append(errs, m.Values[0])
			}
		}
		for _, n := range []string{metrics.Invocations, metrics.Latency, metrics.ColdStarts, metrics.Errors} {
			if !names[n] {
				t.Errorf("no %s in %s", n, line)
			}
		}
	}
	if fmt.Sprint(errs) != "[0 0 1]" {
		t.Errorf("Errors %v, want [0 0 1]", errs)
	}
}
