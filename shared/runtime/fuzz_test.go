package runtime

import (
	"encoding/json"
	"net/textproto"
	"reflect"
	"slices"

	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
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

// FuzzHTTPAdapterEvent feeds whole API Gateway events (payload format 2.0,
// as JSON, the way the Lambda runtime decodes them) with arbitrary headers,
// cookies, path parameters and authorizer context. The invocation never
// fails; the answer is the handler's or a 400; and a request the handler
// sees carries what the event said: every path parameter as a path value,
// every header (Host as r.Host), the cookies joined into one Cookie header,
// and the authorizer context unchanged through APIGatewayContext.
func FuzzHTTPAdapterEvent(f *testing.F) {
	f.Add(`{"version":"2.0","rawPath":"/orders/o-1","headers":{"authorization":"Bearer x","host":"h.example","x-a":"1"},`+
		`"cookies":["a=1","b=2"],"pathParameters":{"id":"o-1"},`+
		`"requestContext":{"requestId":"r1","http":{"method":"GET","path":"/orders/o-1","protocol":"HTTP/1.1"},`+
		`"authorizer":{"lambda":{"sub":"u-1","scopes":"orders:read"}}}}`, "id", "o-1", "X-Custom", "v", "c=d", "sub", "u-2")
	f.Add(`{"rawPath":"/a b","requestContext":{"http":{"method":"BAD METHOD"}}}`, "", "", "", "", "", "", "")
	f.Add(`{"rawPath":"/x","headers":{"HOST":"","Cookie":"z=1"},"requestContext":{"authorizer":{"jwt":{"claims":{"a":"b"},"scopes":["s"]}}}}`,
		"a/b", "%2F", "host", "evil", "", "", "")
	f.Add(`{}`, "{x}", "\x00", "bad header", "\r\n", ";;", "\xff", "\xfe")
	f.Fuzz(func(t *testing.T, event, param, paramValue, header, headerValue, cookie, authKey, authValue string) {
		var req events.APIGatewayV2HTTPRequest
		if json.Unmarshal([]byte(event), &req) != nil {
			return
		}
		if param != "" {
			if req.PathParameters == nil {
				req.PathParameters = map[string]string{}
			}
			req.PathParameters[param] = paramValue
		}
		if header != "" {
			if req.Headers == nil {
				req.Headers = map[string]string{}
			}
			req.Headers[header] = headerValue
		}
		if cookie != "" {
			req.Cookies = append(req.Cookies, cookie)
		}
		if authKey != "" {
			if req.RequestContext.Authorizer == nil {
				req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{}
			}
			if req.RequestContext.Authorizer.Lambda == nil {
				req.RequestContext.Authorizer.Lambda = map[string]interface{}{}
			}
			req.RequestContext.Authorizer.Lambda[authKey] = authValue
		}
		var seen *http.Request
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = r
			w.WriteHeader(http.StatusTeapot)
		})
		resp, err := HTTPAdapter(h)(context.Background(), req)
		if err != nil {
			t.Fatalf("Lambda error %v", err)
		}
		if seen == nil {
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("handler not called, status %d", resp.StatusCode)
			}
			if ct := resp.Headers["Content-Type"]; !strings.HasPrefix(ct, "application/problem+json") {
				t.Fatalf("400 without a problem body: content type %q", ct)
			}
			return
		}
		if resp.StatusCode != http.StatusTeapot {
			t.Fatalf("handler answered 418, adapter returned %d", resp.StatusCode)
		}
		for k, v := range req.PathParameters {
			if got := seen.PathValue(k); got != v {
				t.Fatalf("path parameter %q = %q, handler saw %q", k, v, got)
			}
		}
		if len(req.Cookies) > 0 {
			if got, want := seen.Header.Get("Cookie"), strings.Join(req.Cookies, "; "); got != want {
				t.Fatalf("cookies %q, handler saw Cookie %q", want, got)
			}
		}
		names := map[string]int{} // names that differ only in case: one wins, unspecified which
		for k := range req.Headers {
			names[textproto.CanonicalMIMEHeaderKey(k)]++
		}
		for k, v := range req.Headers {
			ck := textproto.CanonicalMIMEHeaderKey(k)
			if names[ck] > 1 {
				continue
			}
			switch {
			case ck == "Host" || ck == "Cookie" && len(req.Cookies) > 0 || ck == "X-Request-Id" && req.RequestContext.RequestID != "":
				continue
			}
			if !slices.Contains(seen.Header.Values(ck), v) {
				t.Fatalf("header %q: %q, handler saw %q", k, v, seen.Header.Values(ck))
			}
		}
		rc, ok := APIGatewayContext(seen.Context())
		if !ok {
			t.Fatal("no API Gateway context in the handler's request")
		}
		if !reflect.DeepEqual(rc.Authorizer, req.RequestContext.Authorizer) {
			t.Fatalf("authorizer context %#v, handler saw %#v", req.RequestContext.Authorizer, rc.Authorizer)
		}
	})
}
