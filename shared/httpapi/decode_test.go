package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/shop-serverless/shop/shared/problem"
)

const validOrder = `{"name":"Ada","price":{"amount":1234,"currency":"EUR"}}`

func TestDecodeContentType(t *testing.T) {
	tests := []struct {
		contentType string
		wantStatus  int // 0: accepted
	}{
		{"", http.StatusUnsupportedMediaType},
		{"application/json", 0},
		{"application/json; charset=utf-8", 0},
		{"Application/JSON", 0},
		{"application/merge-patch+json", 0},
		{"application/cloudevents+json; charset=UTF-8", 0},
		{"text/plain", http.StatusUnsupportedMediaType},
		{"application/x-www-form-urlencoded", http.StatusUnsupportedMediaType}, // curl -d without -H
		{"text/plain; charset=utf-8", http.StatusUnsupportedMediaType},         // a cross-site "simple request"
		{"multipart/form-data; boundary=x", http.StatusUnsupportedMediaType},
		{"text/json+json", http.StatusUnsupportedMediaType},
		{"application/jsonp", http.StatusUnsupportedMediaType},
		{"application/json;;;=", http.StatusUnsupportedMediaType},
	}
	for _, tt := range tests {
		t.Run(tt.contentType, func(t *testing.T) {
			var dst orderRequest
			err := Decode(newRequest(t, tt.contentType, validOrder), &dst)
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if dst.Name != "Ada" || dst.Price != (amount{1234, "EUR"}) {
					t.Errorf("decoded %+v", dst)
				}
				return
			}
			e := asHTTPError(t, err, tt.wantStatus)
			if e.Detail != "Content-Type must be application/json" {
				t.Errorf("detail = %q", e.Detail)
			}
		})
	}
}

// paddedOrder returns a valid order exactly size bytes long.
func paddedOrder(t *testing.T, size int) string {
	t.Helper()
	prefix, suffix := `{"name":"Ada","price":{"amount":1,"currency":"EUR"},"note":"`, `"}`
	body := prefix + strings.Repeat("x", size-len(prefix)-len(suffix)) + suffix
	if len(body) != size {
		t.Fatalf("padded body is %d bytes, want %d", len(body), size)
	}
	return body
}

func TestDecodeBodySize(t *testing.T) {
	t.Run("exactly MaxBodyBytes is accepted", func(t *testing.T) {
		var dst orderRequest
		if err := Decode(newRequest(t, "application/json", paddedOrder(t, MaxBodyBytes)), &dst); err != nil {
			t.Fatalf("Decode: %v", err)
		}
		if len(dst.Note) < MaxBodyBytes-100 {
			t.Errorf("note has %d bytes", len(dst.Note))
		}
	})
	t.Run("one byte more is 413", func(t *testing.T) {
		var dst orderRequest
		err := Decode(newRequest(t, "application/json", paddedOrder(t, MaxBodyBytes+1)), &dst)
		e := asHTTPError(t, err, http.StatusRequestEntityTooLarge)
		if e.Detail != "request body exceeds 1048576 bytes" {
			t.Errorf("detail = %q", e.Detail)
		}
		var tooLarge *http.MaxBytesError
		if !errors.As(err, &tooLarge) {
			t.Error("413 does not wrap *http.MaxBytesError")
		}
	})
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantDetail string // substring
		wantFields []problem.FieldError
	}{
		{name: "empty", body: "", wantDetail: "request body is empty"},
		{name: "whitespace", body: " \r\n\t ", wantDetail: "request body is empty"},
		{name: "null", body: " null\n", wantDetail: "request body must not be null"},
		{name: "malformed", body: `{"name": }`, wantDetail: "not valid JSON: invalid character '}' looking for beginning of value at byte offset 10"},
		{name: "truncated", body: `{"name": "Ada"`, wantDetail: "unexpected end at byte offset 14"},
		{name: "not JSON at all", body: `name=Ada`, wantDetail: "at byte offset 2"},
		{name: "invalid UTF-8", body: "{\"name\":\"\xff\xfe\",\"price\":{\"amount\":1,\"currency\":\"EUR\"}}", wantDetail: "not valid UTF-8"},
		{name: "replacement character", body: "{\"name\":\"\uFFFD\",\"price\":{\"amount\":1,\"currency\":\"EUR\"}}", wantDetail: "not valid UTF-8"},
		{
			name: "repeated field", body: `{"name":"Ada","price":{"amount":1,"currency":"EUR"},"name":"Bob"}`,
			wantDetail: "repeats a field", wantFields: []problem.FieldError{{Field: "name", Message: "given more than once"}},
		},
		{
			name: "nested repeated field", body: `{"name":"Ada","price":{"amount":1,"amount":2,"currency":"EUR"}}`,
			wantDetail: "repeats a field", wantFields: []problem.FieldError{{Field: "amount", Message: "given more than once"}},
		},
		{
			name: "unknown field", body: `{"name":"Ada","price":{"amount":1,"currency":"EUR"},"nmae":"x"}`,
			wantDetail: "unknown field", wantFields: []problem.FieldError{{Field: "nmae", Message: "unknown field"}},
		},
		{
			name: "unknown field with a huge name", body: `{"` + strings.Repeat("é", 100) + `":1}`,
			wantDetail: "unknown field", wantFields: []problem.FieldError{{Field: strings.Repeat("é", 32) + "…", Message: "unknown field"}},
		},
		{
			name: "nested unknown field", body: `{"name":"Ada","price":{"amount":1,"currency":"EUR","cents":1}}`,
			wantDetail: "unknown field", wantFields: []problem.FieldError{{Field: "cents", Message: "unknown field"}},
		},
		{
			name: "wrong type", body: `{"name":"Ada","price":{"amount":"12.34","currency":"EUR"}}`,
			wantDetail: "wrong type", wantFields: []problem.FieldError{{Field: "price.amount", Message: "must be an integer, not a string"}},
		},
		{
			name: "fraction for an integer", body: `{"name":"Ada","price":{"amount":12.34,"currency":"EUR"}}`,
			wantFields: []problem.FieldError{{Field: "price.amount", Message: "must be an integer from -9223372036854775808 to 9223372036854775807"}},
		},
		{
			name: "integer out of range", body: `{"name":"Ada","price":{"amount":1,"currency":"EUR"},"items":[{"sku":"a","quantity":3000000000}]}`,
			wantFields: []problem.FieldError{{Field: "items.quantity", Message: "must be an integer from -2147483648 to 2147483647"}},
		},
		{
			name: "string field given a number", body: `{"name":42}`,
			wantFields: []problem.FieldError{{Field: "name", Message: "must be a string, not a number"}},
		},
		{
			name: "object field given an array", body: `{"name":"Ada","price":[]}`,
			wantFields: []problem.FieldError{{Field: "price", Message: "must be an object, not an array"}},
		},
		{name: "array body", body: `[1,2]`, wantDetail: "request body must be an object, not an array"},
		{name: "trailing object", body: validOrder + ` {"name":"Bob"}`, wantDetail: fmt.Sprintf("unexpected data at byte offset %d", len(validOrder)+1)},
		{name: "trailing brace", body: validOrder + "\n}", wantDetail: fmt.Sprintf("unexpected data at byte offset %d", len(validOrder)+1)},
		{name: "trailing garbage", body: validOrder + "x", wantDetail: "single JSON value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dst orderRequest
			e := asHTTPError(t, Decode(newRequest(t, "application/json", tt.body), &dst), http.StatusBadRequest)
			if !strings.Contains(e.Detail, tt.wantDetail) {
				t.Errorf("detail = %q, want it to contain %q", e.Detail, tt.wantDetail)
			}
			if tt.wantFields != nil {
				assertFields(t, e.Fields, tt.wantFields)
			}
		})
	}

	t.Run("unreadable body", func(t *testing.T) {
		r := newRequest(t, "application/json", "")
		r.Body = http.NoBody
		asHTTPError(t, Decode(r, &orderRequest{}), http.StatusBadRequest)
		r.Body = struct {
			failingReader
			closer
		}{}
		e := asHTTPError(t, Decode(r, &orderRequest{}), http.StatusBadRequest)
		if strings.Contains(e.Detail, "connection reset") {
			t.Errorf("detail %q exposes the read error", e.Detail)
		}
	})

	t.Run("dst not a pointer is a server error", func(t *testing.T) {
		err := Decode(newRequest(t, "application/json", validOrder), orderRequest{})
		var e *Error
		if err == nil || errors.As(err, &e) {
			t.Fatalf("error = %v, want a plain (500) error", err)
		}
	})
}

type closer struct{}

func (closer) Close() error { return nil }

func TestDecodeValidates(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantFields []problem.FieldError
	}{
		{
			name: "dotted json names",
			body: `{"name":"","price":{"amount":-1,"currency":""},"items":[{"sku":"a","quantity":1,"price":{"amount":1,"currency":"EUR"}},{"sku":"","quantity":0,"price":{"amount":1,"currency":"EUR"}}]}`,
			wantFields: []problem.FieldError{
				{Field: "name", Message: "is required"},
				{Field: "price.amount", Message: "must be at least 0"},
				{Field: "price.currency", Message: "is required"},
				{Field: "items[1].sku", Message: "is required"},
				{Field: "items[1].quantity", Message: "must be at least 1"},
			},
		},
		{
			name:       "nested Validate method",
			body:       `{"name":"Ada","price":{"amount":1,"currency":"eur"}}`,
			wantFields: []problem.FieldError{{Field: "price", Message: "currency codes are upper-case"}},
		},
		{
			name: "Validate methods in pointers and slices",
			body: `{"name":"Ada","price":{"amount":1,"currency":"EUR"},"discount":{"amount":1,"currency":"usd"},"items":[{"sku":"a","quantity":1,"price":{"amount":1,"currency":"gbp"}}]}`,
			wantFields: []problem.FieldError{
				{Field: "discount", Message: "currency codes are upper-case"},
				{Field: "items[0].price", Message: "currency codes are upper-case"},
			},
		},
		{
			name:       "Validate method skipped when its fields failed",
			body:       `{"name":"Ada","price":{"amount":-5,"currency":"eur"}}`,
			wantFields: []problem.FieldError{{Field: "price.amount", Message: "must be at least 0"}},
		},
		{
			name:       "tag messages",
			body:       `{"name":"Adaaaaaaaaaaaaaaaaaaaaaaa","email":"not-an-email","price":{"amount":1,"currency":"EUR"}}`,
			wantFields: []problem.FieldError{{Field: "name", Message: "must be at most 20 characters long"}, {Field: "email", Message: "must be a valid email address"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dst orderRequest
			e := asHTTPError(t, Decode(newRequest(t, "application/json", tt.body), &dst), http.StatusBadRequest)
			if e.Detail != "request failed validation" {
				t.Errorf("detail = %q", e.Detail)
			}
			assertFields(t, e.Fields, tt.wantFields)
		})
	}

	t.Run("the request's own Validate method", func(t *testing.T) {
		var dst orderWithRule
		e := asHTTPError(t, Decode(newRequest(t, "application/json", `{"min":5,"max":1}`), &dst), http.StatusBadRequest)
		assertFields(t, e.Fields, []problem.FieldError{{Field: "", Message: "min must not exceed max"}})
		if err := Decode(newRequest(t, "application/json", `{"min":1,"max":5}`), &dst); err != nil {
			t.Errorf("valid request: %v", err)
		}
	})
}

// FuzzDecode: whatever the body, Decode must not panic and must answer nil or a 4xx.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		validOrder, "", "null", "[]", "{", `{"name":1}`, `{"items":[{"quantity":-1}]}`,
		`{"price":{"amount":1e400}}`, `{"nmae":1}`, validOrder + "x", "\xff\xfe", `{"name":"\ud800"}`,
		`{"discount":null,"items":null}`, `"just a string"`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var dst orderRequest
		err := Decode(newRequest(t, "application/json", body), &dst)
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Decode(%q) returned %T %v, want *Error", body, err, err)
		}
		if e.Status < 400 || e.Status > 499 {
			t.Fatalf("Decode(%q) status %d, want 4xx", body, e.Status)
		}
		if e.Detail == "" {
			t.Fatalf("Decode(%q) *Error without detail", body)
		}
	})
}

func TestDecodeSameKeyInOtherObjects(t *testing.T) {
	// A key repeated in sibling or nested objects is no repeated field.
	body := `{"name":"Ada","price":{"amount":1,"currency":"EUR"},"items":[{"sku":"a","quantity":1,"price":{"amount":1,"currency":"EUR"}},{"sku":"b","quantity":2,"price":{"amount":2,"currency":"EUR"}}]}`
	var dst orderRequest
	if err := Decode(newRequest(t, "application/json", body), &dst); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if len(dst.Items) != 2 {
		t.Fatalf("decoded %+v", dst)
	}
	if name, dup := duplicateKey([]byte(`{"a":{"a":1,"b":[{"a":1},{"a":2}]},"b":{"c":{}},"c":[]}`)); dup {
		t.Errorf("duplicateKey found %q", name)
	}
}
