package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shop-serverless/shop/shared/problem"
)

// amount stands in for money.Money (which httpapi must not import): tags for its
// fields and a Validate method for what tags cannot say.
type amount struct {
	Amount   int64  `json:"amount" validate:"gte=0"`
	Currency string `json:"currency" validate:"required"`
}

func (a amount) Validate() error {
	if a.Currency != strings.ToUpper(a.Currency) {
		return errors.New("currency codes are upper-case")
	}
	return nil
}

type lineItem struct {
	SKU      string `json:"sku" validate:"required"`
	Quantity int32  `json:"quantity" validate:"min=1,max=100"`
	Price    amount `json:"price"`
}

type orderRequest struct {
	Name     string     `json:"name" validate:"required,max=20"`
	Email    string     `json:"email,omitempty" validate:"omitempty,email"`
	Note     string     `json:"note"`
	Price    amount     `json:"price"`
	Discount *amount    `json:"discount,omitempty"`
	Items    []lineItem `json:"items" validate:"dive"`
}

// orderWithRule has a cross-field rule on the request itself.
type orderWithRule struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

func (o *orderWithRule) Validate() error {
	if o.Min > o.Max {
		return errors.New("min must not exceed max")
	}
	return nil
}

func newRequest(t *testing.T, contentType, body string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// asHTTPError asserts err is an *Error with the given status.
func asHTTPError(t *testing.T, err error, status int) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *Error %d", err, err, status)
	}
	if e.Status != status {
		t.Fatalf("status = %d, want %d (error: %v)", e.Status, status, e)
	}
	return e
}

func assertFields(t *testing.T, got, want []problem.FieldError) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("fields = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// problemBody decodes a problem response, checking its content type.
func problemBody(t *testing.T, rec *httptest.ResponseRecorder) problem.Details {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problem.Details
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem body %q: %v", rec.Body, err)
	}
	return p
}

// captureLogs returns a logger writing JSON into a buffer, and a function that
// parses what was written.
func captureLogs(t *testing.T) (*slog.Logger, func() []map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return logger, func() []map[string]any {
		t.Helper()
		var lines []map[string]any
		for _, raw := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
			if len(raw) == 0 {
				continue
			}
			var line map[string]any
			if err := json.Unmarshal(raw, &line); err != nil {
				t.Fatalf("log line %q: %v", raw, err)
			}
			lines = append(lines, line)
		}
		return lines
	}
}

// findLog returns the first line with the message, failing if there is none.
func findLog(t *testing.T, lines []map[string]any, msg string) map[string]any {
	t.Helper()
	for _, l := range lines {
		if l["msg"] == msg {
			return l
		}
	}
	t.Fatalf("no log line %q in %v", msg, lines)
	return nil
}
