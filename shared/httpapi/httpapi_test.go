package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/problem"
)

const secret = "dial tcp 10.0.3.7:5432: password authentication failed for user shop"

func TestErrorDefaults(t *testing.T) {
	tests := []struct {
		name      string
		err       *Error
		wantTitle string
		wantText  string
	}{
		{"from Errorf", Errorf(http.StatusNotFound, "order %s not found", "o-1"), "Not Found", "404 Not Found: order o-1 not found"},
		{"custom title", &Error{Status: 409, Title: "Stock Exhausted"}, "Stock Exhausted", "409 Stock Exhausted"},
		{"cause kept for logs", &Error{Status: 502, Detail: "payment provider unavailable", Err: errors.New("timeout")},
			"Bad Gateway", "502 Bad Gateway: payment provider unavailable: timeout"},
		{"success status is not an error status", &Error{Status: 200}, "Internal Server Error", "500 Internal Server Error"},
		{"unnamed status", &Error{Status: 499}, "Error", "499 Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.title(); got != tt.wantTitle {
				t.Errorf("title = %q, want %q", got, tt.wantTitle)
			}
			if got := tt.err.Error(); got != tt.wantText {
				t.Errorf("Error() = %q, want %q", got, tt.wantText)
			}
		})
	}
	cause := errors.New("cause")
	if !errors.Is(&Error{Status: 500, Err: cause}, cause) {
		t.Error("Unwrap does not reach the cause")
	}
}

// requestWithIDs returns a request whose context carries ids and a captured logger,
// as Middleware would leave it.
func requestWithIDs(t *testing.T) (*http.Request, func() []map[string]any) {
	t.Helper()
	logger, logs := captureLogs(t)
	r := httptest.NewRequest(http.MethodPost, "/orders/o-1?token=abc", nil)
	ctx := log.WithContext(r.Context(), logger.With("requestId", "req-1"))
	ctx = WithCorrelationID(WithRequestID(ctx, "req-1"), "corr-1")
	return r.WithContext(ctx), logs
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantType   string
		wantTitle  string
		wantDetail string
		wantFields []problem.FieldError
		wantHeader http.Header
		wantLevel  string
	}{
		{
			name:       "*Error",
			err:        &Error{Status: 429, Type: "https://shop.example/problems/slow-down", Detail: "too many orders", Header: http.Header{"Retry-After": {"30"}}, Err: errors.New(secret)},
			wantStatus: 429, wantType: "https://shop.example/problems/slow-down", wantTitle: "Too Many Requests", wantDetail: "too many orders",
			wantHeader: http.Header{"Retry-After": {"30"}}, wantLevel: "INFO",
		},
		{
			name:       "wrapped *Error",
			err:        fmt.Errorf("creating order: %w", &Error{Status: 400, Detail: "bad", Fields: []problem.FieldError{{Field: "name", Message: "is required"}}}),
			wantStatus: 400, wantType: "about:blank", wantTitle: "Bad Request", wantDetail: "bad",
			wantFields: []problem.FieldError{{Field: "name", Message: "is required"}}, wantLevel: "INFO",
		},
		{
			name:       "MaxBytesError",
			err:        fmt.Errorf("reading: %w", &http.MaxBytesError{Limit: 10}),
			wantStatus: 413, wantType: "about:blank", wantTitle: "Request Entity Too Large", wantDetail: "request body exceeds 10 bytes", wantLevel: "INFO",
		},
		{
			name:       "plain error",
			err:        fmt.Errorf("store: %w", errors.New(secret)),
			wantStatus: 500, wantType: "about:blank", wantTitle: "Internal Server Error", wantDetail: "an unexpected error occurred", wantLevel: "ERROR",
		},
		{
			name: "AWS throttling, retries spent",
			err: fmt.Errorf("place order: %w", &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "TransactWriteItems",
				Err: &smithy.GenericAPIError{Code: "ProvisionedThroughputExceededException", Message: secret}}),
			wantStatus: 503, wantType: "about:blank", wantTitle: "Service Unavailable", wantDetail: "the service is busy; retry later",
			wantHeader: http.Header{"Retry-After": {"1"}}, wantLevel: "ERROR",
		},
		{
			name:       "another AWS error",
			err:        fmt.Errorf("place order: %w", &smithy.GenericAPIError{Code: "ValidationException", Message: secret}),
			wantStatus: 500, wantType: "about:blank", wantTitle: "Internal Server Error", wantDetail: "an unexpected error occurred", wantLevel: "ERROR",
		},
		{
			name:       "5xx *Error logs at error",
			err:        &Error{Status: 503, Detail: "try later", Err: errors.New(secret)},
			wantStatus: 503, wantType: "about:blank", wantTitle: "Service Unavailable", wantDetail: "try later", wantLevel: "ERROR",
		},
		{
			name:       "nil error",
			err:        nil,
			wantStatus: 500, wantType: "about:blank", wantTitle: "Internal Server Error", wantDetail: "an unexpected error occurred", wantLevel: "ERROR",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, logs := requestWithIDs(t)
			rec := httptest.NewRecorder()
			WriteError(rec, r, tt.err)

			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if strings.Contains(rec.Body.String(), secret) || strings.Contains(rec.Body.String(), "store:") {
				t.Errorf("response leaks the internal error: %s", rec.Body)
			}
			p := problemBody(t, rec)
			want := problem.Details{Type: tt.wantType, Title: tt.wantTitle, Status: tt.wantStatus, Detail: tt.wantDetail,
				Instance: "/orders/o-1", RequestID: "req-1", CorrelationID: "corr-1"}
			gotFields := p.Errors
			p.Errors = nil
			if fmt.Sprint(p) != fmt.Sprint(want) {
				t.Errorf("problem = %+v\nwant      %+v", p, want)
			}
			assertFields(t, gotFields, tt.wantFields)
			for k, v := range tt.wantHeader {
				if got := rec.Header().Values(k); fmt.Sprint(got) != fmt.Sprint(v) {
					t.Errorf("header %s = %v, want %v", k, got, v)
				}
			}

			line := findLog(t, logs(), "request failed")
			if line["level"] != tt.wantLevel || line["requestId"] != "req-1" {
				t.Errorf("log line = %v, want level %s with requestId", line, tt.wantLevel)
			}
			if tt.err != nil && !strings.Contains(fmt.Sprint(line["error"]), tt.err.Error()) {
				t.Errorf("logged error %q does not contain the real error %q", line["error"], tt.err)
			}
		})
	}
}

// useDefaultLogger captures slog.Default for the test, which is where WriteError
// logs when no request (or no Middleware) supplied a logger.
func useDefaultLogger(t *testing.T) func() []map[string]any {
	t.Helper()
	logger, logs := captureLogs(t)
	previous := slog.Default()
	slog.SetDefault(logger)
	t.Cleanup(func() { slog.SetDefault(previous) })
	return logs
}

func TestWriteErrorWithoutRequest(t *testing.T) {
	logs := useDefaultLogger(t)
	rec := httptest.NewRecorder()
	WriteError(rec, nil, errors.New(secret))
	p := problemBody(t, rec)
	if p.Status != 500 || p.Instance != "" || strings.Contains(rec.Body.String(), secret) {
		t.Errorf("problem = %+v", p)
	}
	if line := findLog(t, logs(), "request failed"); line["error"] != secret {
		t.Errorf("log line = %v, want the real error", line)
	}
}

func TestHandlerFunc(t *testing.T) {
	tests := []struct {
		name       string
		handler    HandlerFunc
		wantStatus int
		wantBody   string
	}{
		{"success", func(w http.ResponseWriter, r *http.Request) error {
			WriteJSON(w, http.StatusCreated, map[string]string{"id": "o-1"})
			return nil
		}, 201, `{"id":"o-1"}` + "\n"},
		{"error", func(w http.ResponseWriter, r *http.Request) error {
			return Errorf(http.StatusNotFound, "no order %q", "o-1")
		}, 404, `"detail":"no order \"o-1\""`},
		{"error after the response started keeps the response", func(w http.ResponseWriter, r *http.Request) error {
			WriteJSON(w, http.StatusOK, []int{1})
			return errors.New(secret)
		}, 200, "[1]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, logs := captureLogs(t)
			rec := httptest.NewRecorder()
			Middleware(logger, tt.handler).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/orders/o-1", nil))
			if rec.Code != tt.wantStatus || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("response = %d %q, want %d containing %q", rec.Code, rec.Body, tt.wantStatus, tt.wantBody)
			}
			if strings.Contains(rec.Body.String(), secret) {
				t.Errorf("response leaks the internal error: %s", rec.Body)
			}
			if tt.wantStatus == 200 && strings.Contains(tt.name, "started") {
				findLog(t, logs(), "response already started; problem not sent")
			}
		})
	}
}

func TestWriteJSON(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		v          any
		wantStatus int
		wantType   string
		wantBody   string
	}{
		{"object", 200, struct {
			ID string `json:"id"`
		}{"o-1"}, 200, "application/json", `{"id":"o-1"}` + "\n"},
		{"no content", 204, map[string]int{"ignored": 1}, 204, "", ""},
		{"not modified", 304, nil, 304, "", ""},
		{"unencodable", 200, map[string]any{"c": make(chan int)}, 500, "application/problem+json", `"detail":"an unexpected error occurred"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := useDefaultLogger(t)
			rec := httptest.NewRecorder()
			WriteJSON(rec, tt.status, tt.v)
			if tt.wantStatus == 500 {
				if line := findLog(t, logs(), "request failed"); !strings.Contains(line["error"].(string), "chan int") {
					t.Errorf("log line = %v, want the encoding error", line)
				}
			}
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if got := rec.Header().Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) || (tt.wantBody == "" && rec.Body.Len() > 0) {
				t.Errorf("body = %q, want %q", rec.Body, tt.wantBody)
			}
			if strings.Contains(rec.Body.String(), "chan") {
				t.Errorf("body leaks the encoding error: %q", rec.Body)
			}
		})
	}
}

func TestWriteJSONUnencodableLogsWithRequestID(t *testing.T) {
	logger, logs := captureLogs(t)
	h := Middleware(logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, 200, func() {})
	}))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header.Set(HeaderRequestID, "req-9")
	h.ServeHTTP(rec, req)
	if p := problemBody(t, rec); p.Status != 500 || p.RequestID != "req-9" {
		t.Errorf("problem = %+v", p)
	}
	if line := findLog(t, logs(), "request failed"); line["requestId"] != "req-9" || line["level"] != "ERROR" {
		t.Errorf("log line = %v", line)
	}
}

func TestContextIDsOutsideMiddleware(t *testing.T) {
	ctx := context.Background()
	if RequestID(ctx) != "" || CorrelationID(ctx) != "" {
		t.Error("ids present in an empty context")
	}
}
