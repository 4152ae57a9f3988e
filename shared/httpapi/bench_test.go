package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/metrics"
	"github.com/shop-serverless/shop/shared/problem"
)

// BenchmarkMiddleware is the edge middleware alone (ids, access log,
// metrics, panic guard), and its problem path, each against a bare
// net/http handler doing the same JSON work:
//
//	ok/bare             decode a JSON body, answer JSON
//	ok/middleware       the same inside Middleware
//	problem/bare        a bare handler answering a 404 problem body itself
//	problem/middleware  a HandlerFunc returning a 404 *Error inside
//	                    Middleware (WriteError: a log line, then the body)
//
// Logs and metrics go to /dev/null.
func BenchmarkMiddleware(b *testing.B) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = null.Close() })
	b.Cleanup(metrics.Redirect(null))
	logger := slog.New(log.NewHandler(null, slog.LevelInfo)).With(slog.String(log.KeyFunction, "bench-fn"))

	type line struct {
		SKU      string `json:"sku"`
		Quantity int    `json:"quantity"`
	}
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in line
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		body, _ := json.Marshal(in)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
	bareProblem := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in line
		_ = json.NewDecoder(r.Body).Decode(&in)
		body, _ := json.Marshal(problem.Details{Type: "about:blank", Title: "Not Found", Status: http.StatusNotFound,
			Detail: "no product " + in.SKU, Instance: r.URL.Path})
		w.Header().Set("Content-Type", problem.ContentType)
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write(body)
	})
	notFound := HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		var in line
		_ = json.NewDecoder(r.Body).Decode(&in)
		return Errorf(http.StatusNotFound, "no product %s", in.SKU)
	})
	for _, bc := range []struct {
		name   string
		h      http.Handler
		status int
	}{
		{"ok/bare", bare, http.StatusOK},
		{"ok/middleware", Middleware(logger, bare), http.StatusOK},
		{"problem/bare", bareProblem, http.StatusNotFound},
		{"problem/middleware", Middleware(logger, notFound), http.StatusNotFound},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "/v1/products/p-1/lines", strings.NewReader(`{"sku":"SKU-0001","quantity":2}`))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set(HeaderCorrelationID, "corr-5f84c7a9")
				r.Header.Set(HeaderRequestID, "Jh8kQgLzIAMEV0Q=")
				rec := httptest.NewRecorder()
				bc.h.ServeHTTP(rec, r)
				if rec.Code != bc.status || !strings.Contains(rec.Body.String(), "SKU-0001") {
					b.Fatalf("status %d, body %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkValidate is Validate on a request with nested structs and a dived
// slice: valid, and with four tag failures (the tag check's message and path
// building) plus one Validate method's.
//
//	valid    every tag and Validate method passes
//	invalid  name, email, items[0].sku, items[1].quantity fail their tags, price its method
func BenchmarkValidate(b *testing.B) {
	valid := &orderRequest{Name: "Ada", Email: "ada@example.com", Price: amount{1299, "EUR"},
		Discount: &amount{100, "EUR"},
		Items: []lineItem{
			{SKU: "sku-1", Quantity: 1, Price: amount{499, "EUR"}},
			{SKU: "sku-2", Quantity: 2, Price: amount{400, "EUR"}},
			{SKU: "sku-3", Quantity: 3, Price: amount{0, "EUR"}},
		}}
	invalid := &orderRequest{Name: "", Email: "ada@", Price: amount{1299, "eur"},
		Items: []lineItem{
			{SKU: "", Quantity: 1, Price: amount{499, "EUR"}},
			{SKU: "sku-2", Quantity: 200, Price: amount{400, "EUR"}},
		}}
	if err := Validate(valid); err != nil {
		b.Fatalf("valid: %v", err)
	}
	var e *Error
	if !errors.As(Validate(invalid), &e) || len(e.Fields) != 5 {
		b.Fatalf("invalid: %v", Validate(invalid))
	}
	b.Run("valid", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = Validate(valid)
		}
	})
	b.Run("invalid", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = Validate(invalid)
		}
	})
}
