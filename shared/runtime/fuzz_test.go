package runtime

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestReescapePath(t *testing.T) {
	tests := map[string]string{
		"":                "",
		"/orders/o-1":     "/orders/o-1",
		"/a%2Fb%20c":      "/a%2Fb%20c", // already encoded: unchanged
		"/a b":            "/a%20b",
		"/x?y#z":          "/x%3Fy%23z",
		"/100%":           "/100%25",
		"/%zz/%4":         "/%25zz/%254",
		"/caf\u00e9":      "/caf%C3%A9",
		"/tab\there\x7f":  "/tab%09here%7F",
		"/50%25-discount": "/50%25-discount",
	}
	for in, want := range tests {
		if got := reescapePath(in); got != want {
			t.Errorf("reescapePath(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzReescapePath checks the property the adapter relies on: any path API
// Gateway decoded (no % left in it) reaches the handler exactly as decoded.
func FuzzReescapePath(f *testing.F) {
	for _, seed := range []string{"/", "/a b", "/x?y#z", "/caf\u00e9", "/\x00\x01", "/a/../b", "//double"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, path string) {
		path = "/" + strings.ReplaceAll(path, "%", "")
		u, err := url.ParseRequestURI(reescapePath(path))
		if err != nil {
			t.Fatalf("%q: %v", path, err)
		}
		if u.Path != path || u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("%q came back as path %q query %q fragment %q", path, u.Path, u.RawQuery, u.Fragment)
		}
	})
}

// FuzzHTTPAdapter feeds arbitrary paths and bodies: the adapter either hands
// the handler a request or answers 400, and never fails the invocation.
func FuzzHTTPAdapter(f *testing.F) {
	f.Add("/orders/o-1", "q=1", `{"a":1}`, false)
	f.Add("/upload", "", "AAEC", true)
	f.Add("/upload", "", "not base64", true)
	f.Add("relative", "%zz", "", false)
	f.Fuzz(func(t *testing.T, path, query, body string, isBase64 bool) {
		h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusTeapot)
		})
		req := apiRequest(http.MethodPost, path)
		req.RawQueryString, req.Body, req.IsBase64Encoded = query, body, isBase64
		resp, err := HTTPAdapter(h)(context.Background(), req)
		if err != nil {
			t.Fatalf("Lambda error %v", err)
		}
		if resp.StatusCode != http.StatusTeapot && resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}
