package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type reserveInput struct {
	OrderID  string `json:"orderId"`
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

type reserveOutput struct {
	ReservationID string `json:"reservationId"`
	Note          string `json:"note"`
}

// OutOfStockError is a domain error a state machine's Catch would match by
// its type name.
type OutOfStockError struct{ SKU string }

func (e *OutOfStockError) Error() string { return "out of stock: " + e.SKU }

// PaymentDeclined is a value-type error; its name must survive too.
type PaymentDeclined struct{ Reason string }

func (e PaymentDeclined) Error() string { return "payment declined: " + e.Reason }

// reserveStep fails in the way the input's SKU asks for.
func reserveStep(_ context.Context, in reserveInput) (reserveOutput, error) {
	switch in.SKU {
	case "none-left":
		return reserveOutput{}, &OutOfStockError{SKU: in.SKU}
	case "declined":
		return reserveOutput{}, PaymentDeclined{Reason: "insufficient funds"}
	case "plain":
		return reserveOutput{}, errors.New("store unavailable")
	case "wrapped":
		return reserveOutput{}, fmt.Errorf("reserving: %w", &OutOfStockError{SKU: in.SKU})
	case "typed":
		return reserveOutput{}, fmt.Errorf("reserving: %w", typedError{name: "InsufficientStock", msg: "insufficient stock"})
	}
	return reserveOutput{ReservationID: "r-" + in.OrderID, Note: "<kept as is>"}, nil
}

// stepErrorCases are the errors whose errorType must be the same on Lambda
// and on Knative: an error without a stable name (ErrorType) is Transient,
// whatever its Go type.
var stepErrorCases = []struct {
	sku, wantType, wantMessage string
}{
	{"none-left", TransientErrorType, "out of stock: none-left"},
	{"declined", TransientErrorType, "payment declined: insufficient funds"},
	{"plain", TransientErrorType, "store unavailable"},
	{"wrapped", TransientErrorType, "reserving: out of stock: wrapped"},
	// A domain error with a stable name keeps it, wrapped or not: a
	// Catch can tell two sentinel values of one Go type apart.
	{"typed", "InsufficientStock", "reserving: insufficient stock"},
}

// typedError is what shared/errmap makes of a service's sentinel errors.
type typedError struct{ name, msg string }

func (e typedError) Error() string     { return e.msg }
func (e typedError) ErrorType() string { return e.name }

func postStep(t *testing.T, method, body string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	stepHandler(reserveStep).ServeHTTP(rec, httptest.NewRequest(method, "/", strings.NewReader(body)))
	return rec
}

func TestStepOverHTTP(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		body       string
		wantStatus int
		wantBody   string // exact, when set
		wantType   string // errorType, when set
	}{
		{name: "ok", body: `{"orderId":"o-1","sku":"s-1","quantity":2}`, wantStatus: http.StatusOK,
			wantBody: `{"reservationId":"r-o-1","note":"<kept as is>"}`},
		{name: "bad JSON", body: `{"orderId":`, wantStatus: http.StatusBadRequest, wantType: "errorString"},
		{name: "not JSON at all", body: `orderId=o-1`, wantStatus: http.StatusBadRequest, wantType: "SyntaxError"},
		{name: "empty body", body: ``, wantStatus: http.StatusBadRequest, wantType: "errorString"},
		{name: "wrong type", body: `{"orderId":"o-1","quantity":"two"}`, wantStatus: http.StatusBadRequest, wantType: "UnmarshalTypeError"},
		{name: "unknown field", body: `{"orderId":"o-1","sku":"s-1","quantity":2,"extra":true}`, wantStatus: http.StatusBadRequest, wantType: "errorString"},
		{name: "trailing data", body: `{"orderId":"o-1"} {"orderId":"o-2"}`, wantStatus: http.StatusBadRequest, wantType: "errorString"},
		{name: "domain error", body: `{"orderId":"o-1","sku":"none-left"}`, wantStatus: http.StatusInternalServerError,
			wantBody: `{"errorType":"Transient","errorMessage":"out of stock: none-left"}`},
		{name: "GET", method: http.MethodGet, wantStatus: http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			rec := postStep(t, method, tt.body)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantBody != "" && rec.Body.String() != tt.wantBody {
				t.Errorf("body %s, want %s", rec.Body, tt.wantBody)
			}
			if tt.wantType != "" {
				var got stepError
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
					t.Fatalf("error body %s: %v", rec.Body, err)
				}
				if got.ErrorType != tt.wantType || got.ErrorMessage == "" {
					t.Errorf("error body %+v, want errorType %s", got, tt.wantType)
				}
			}
		})
	}
}

func TestStepErrorTypeOverHTTP(t *testing.T) {
	for _, tc := range stepErrorCases {
		t.Run(tc.sku, func(t *testing.T) {
			rec := postStep(t, http.MethodPost, `{"orderId":"o-1","sku":"`+tc.sku+`"}`)
			if rec.Code != http.StatusInternalServerError || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("status %d content type %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			var got stepError
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got != (stepError{ErrorType: tc.wantType, ErrorMessage: tc.wantMessage}) {
				t.Errorf("got %+v, want %s / %s", got, tc.wantType, tc.wantMessage)
			}
		})
	}
}
