// Package tests holds the end-to-end tests: real HTTP through the API
// Gateway URL of the stack that `make run` / `make test` deployed on the
// local emulator. They skip without a deployed stack unless
// SHOP_REQUIRE_EMULATOR=1 (set by make test), where that is a failure.
package tests

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// apiURL is the deployed API's base URL: $SHOP_API_URL, else the file the
// deployer wrote.
func apiURL(t *testing.T) string {
	t.Helper()
	if u := os.Getenv("SHOP_API_URL"); u != "" {
		stackUsed.Store(true)
		return strings.TrimRight(u, "/")
	}
	if b, err := os.ReadFile(filepath.Join("..", ".local", "api-url")); err == nil {
		stackUsed.Store(true)
		return strings.TrimRight(strings.TrimSpace(string(b)), "/")
	}
	if os.Getenv("SHOP_REQUIRE_EMULATOR") == "1" {
		t.Fatal("no deployed stack: SHOP_API_URL unset and .local/api-url missing")
	}
	t.Skip("end-to-end: run `make run` first (make test does it)")
	return ""
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// problem is an application/problem+json body.
type problem struct {
	Type          string `json:"type"`
	Title         string `json:"title"`
	Status        int    `json:"status"`
	Detail        string `json:"detail"`
	RequestID     string `json:"requestId"`
	CorrelationID string `json:"correlationId"`
	Errors        []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// call sends a request; body may be nil, a string/[]byte (sent as is) or a
// value (sent as JSON). Extra headers come in name, value pairs.
func call(t *testing.T, method, path string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, apiURL(t)+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	recordHeaders(req.Header)
	if rd != nil {
		sent, _ := io.ReadAll(rd)
		recordJSON(sent)
		req.Body = io.NopCloser(bytes.NewReader(sent))
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	recordJSON(data)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// expect fails unless r has status; for 4xx/5xx it also checks the problem
// body and returns it.
func expect(t *testing.T, r response, status int) problem {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body: %s", r.Status, status, r.Body)
	}
	var p problem
	if status >= 400 {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Fatalf("error content type %q, want application/problem+json; body: %s", ct, r.Body)
		}
		r.json(t, &p)
		if p.Status != status || p.Title == "" || p.RequestID == "" {
			t.Fatalf("problem body incomplete: %s", r.Body)
		}
	}
	return p
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
