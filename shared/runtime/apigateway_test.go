package runtime

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/shop-serverless/shop/shared/problem"
)

// seenRequest is what a handler observed of the *http.Request the adapter built.
type seenRequest struct {
	Method        string
	Path          string
	EscapedPath   string
	RequestURI    string
	RawQuery      string
	Host          string
	RemoteAddr    string
	Proto         string
	Header        http.Header
	Body          string
	ContentLength int64
	PathValues    map[string]string
	APIGateway    *events.APIGatewayV2HTTPRequestContext
}

// recordRequest runs req through the adapter with a handler that records what
// it sees, and returns that with the adapter's response.
func recordRequest(t *testing.T, req events.APIGatewayV2HTTPRequest, pathValueNames ...string) (*seenRequest, events.APIGatewayV2HTTPResponse) {
	t.Helper()
	var seen *seenRequest
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading body: %v", err)
		}
		seen = &seenRequest{
			Method: r.Method, Path: r.URL.Path, EscapedPath: r.URL.EscapedPath(), RequestURI: r.RequestURI,
			RawQuery: r.URL.RawQuery, Host: r.Host, RemoteAddr: r.RemoteAddr, Proto: r.Proto,
			Header: r.Header, Body: string(body), ContentLength: r.ContentLength,
			PathValues: map[string]string{},
		}
		for _, name := range pathValueNames {
			seen.PathValues[name] = r.PathValue(name)
		}
		if rc, ok := APIGatewayContext(r.Context()); ok {
			seen.APIGateway = &rc
		}
	})
	resp, err := HTTPAdapter(h)(context.Background(), req)
	if err != nil {
		t.Fatalf("adapter returned a Lambda error: %v", err)
	}
	return seen, resp
}

func apiRequest(method, rawPath string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: method + " " + rawPath, RawPath: rawPath,
		Headers: map[string]string{},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "apigw-req-1", RouteKey: method + " " + rawPath, DomainName: "abc123.execute-api.eu-west-1.amazonaws.com",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: rawPath, Protocol: "HTTP/1.1", SourceIP: "203.0.113.7"},
		},
	}
}

func TestHTTPAdapterRequestMapping(t *testing.T) {
	tests := []struct {
		name   string
		req    func() events.APIGatewayV2HTTPRequest
		values []string
		check  func(t *testing.T, got *seenRequest)
	}{
		{
			name: "method, path, query, remote address, protocol",
			req: func() events.APIGatewayV2HTTPRequest {
				r := apiRequest(http.MethodPut, "/products/p-1")
				r.RawQueryString = "limit=10&tag=a&tag=b"
				r.RequestContext.HTTP.Protocol = "HTTP/2.0"
				return r
			},
			check: func(t *testing.T, got *seenRequest) {
				want := []string{http.MethodPut, "/products/p-1", "/products/p-1?limit=10&tag=a&tag=b", "limit=10&tag=a&tag=b", "203.0.113.7", "HTTP/2.0"}
				have := []string{got.Method, got.Path, got.RequestURI, got.RawQuery, got.RemoteAddr, got.Proto}
				if !reflect.DeepEqual(have, want) {
					t.Errorf("got %q, want %q", have, want)
				}
			},
		},
		{
			name: "escaped path keeps its encoding",
			req:  func() events.APIGatewayV2HTTPRequest { return apiRequest(http.MethodGet, "/files/a%2Fb%20c") },
			check: func(t *testing.T, got *seenRequest) {
				if got.Path != "/files/a/b c" || got.EscapedPath != "/files/a%2Fb%20c" {
					t.Errorf("path %q escaped %q", got.Path, got.EscapedPath)
				}
			},
		},
		{
			name: "path API Gateway decoded: space, non-ASCII, ? and # stay in the path",
			req: func() events.APIGatewayV2HTTPRequest {
				r := apiRequest(http.MethodGet, "/search/a b/caf\u00e9/x?y#z")
				r.RawQueryString = "q=1"
				return r
			},
			check: func(t *testing.T, got *seenRequest) {
				if got.Path != "/search/a b/caf\u00e9/x?y#z" || got.RawQuery != "q=1" ||
					got.RequestURI != "/search/a%20b/caf%C3%A9/x%3Fy%23z?q=1" {
					t.Errorf("path %q query %q request URI %q", got.Path, got.RawQuery, got.RequestURI)
				}
			},
		},
		{
			name: "%25 kept by API Gateway means a literal percent; a stray % too",
			req:  func() events.APIGatewayV2HTTPRequest { return apiRequest(http.MethodGet, "/discount/50%25/100%") },
			check: func(t *testing.T, got *seenRequest) {
				if got.Path != "/discount/50%/100%" || got.EscapedPath != "/discount/50%25/100%25" {
					t.Errorf("path %q escaped %q", got.Path, got.EscapedPath)
				}
			},
		},
		{
			name: "requestContext.http.path when rawPath is missing",
			req: func() events.APIGatewayV2HTTPRequest {
				r := apiRequest(http.MethodGet, "/orders/o-9")
				r.RawPath = ""
				return r
			},
			check: func(t *testing.T, got *seenRequest) {
				if got.Path != "/orders/o-9" {
					t.Errorf("path %q", got.Path)
				}
			},
		},
		{
			name: "headers canonicalised, comma-joined values kept whole",
			req: func() events.APIGatewayV2HTTPRequest {
				r := apiRequest(http.MethodGet, "/")
				r.Headers = map[string]string{"accept": "application/json", "x-forwarded-for": "198.51.100.1, 10.0.0.1", "idempotency-key": "k-1"}
				return r
			},
			check: func(t *testing.T, got *seenRequest) {
				want := map[string][]string{"Accept": {"application/json"}, "X-Forwarded-For": {"198.51.100.1, 10.0.0.1"}, "Idempotency-Key": {"k-1"}}
				for k, v := range want {
					if !reflect.DeepEqual(got.Header[k], v) {
						t.Errorf("header %s = %q, want %q", k, got.Header[k], v)
					}
				}
			},
		},
		{
			name: "Host from the host header, not left in the header map",
			req: func() events.APIGatewayV2HTTPRequest {
				r := apiRequest(http.MethodGet, "/")
				r.Headers["host"] = "api.shop.example"
				return r
			},
			check: func(t *testing.T, got *seenRequest) {
				if got.Host != "api.shop.example" || got.Header.Get("Host") != "" {
					t.Errorf("Host %q, header %q", got.Host, got.Header.Get("Host"))
				}
			},
		},
		{
			name: "Host from domainName without a host header",
			req:  func() events.APIGatewayV2HTTPRequest { return apiRequest(http.MethodGet, "/") },
			check: func(t *testing.T, got *seenRequest) {
				if got.Host != "abc123.execute-api.eu-west-1.amazonaws.com" {
					t.Errorf("Host %q", got.Host)
				}
			},
		},
		{
			name: "cookies array (AWS) joined into one Cookie header",
			req: func() events.APIGatewayV2HTTPRequest {
				r := apiRequest(http.MethodGet, "/")
				r.Cookies = []string{"a=1", "session=xyz"}
				return r
			},
			check: func(t *testing.T, got *seenRequest) {
				if !reflect.DeepEqual(got.Header["Cookie"], []string{"a=1; session=xyz"}) {
					t.Errorf("Cookie %q", got.Header["Cookie"])
				}
			},
		},
		{
			name: "cookie header (MiniStack) kept as is",
			req: func() events.APIGatewayV2HTTPRequest {
				r := apiRequest(http.MethodGet, "/")
				r.Headers["cookie"] = "a=1; session=xyz"
				return r
			},
			check: func(t *testing.T, got *seenRequest) {
				if !reflect.DeepEqual(got.Header["Cookie"], []string{"a=1; session=xyz"}) {
					t.Errorf("Cookie %q", got.Header["Cookie"])
				}
			},
		},
		{
			name: "cookies array wins over a cookie header",
			req: func() events.APIGatewayV2HTTPRequest {
				r := apiRequest(http.MethodGet, "/")
				r.Headers["cookie"] = "stale=1"
				r.Cookies = []string{"fresh=2"}
				return r
			},
			check: func(t *testing.T, got *seenRequest) {
				if !reflect.DeepEqual(got.Header["Cookie"], []string{"fresh=2"}) {
					t.Errorf("Cookie %q", got.Header["Cookie"])
				}
			},
		},
		{
			name: "plain body and its length",
			req: func() events.APIGatewayV2HTTPRequest {
				r := apiRequest(http.MethodPost, "/orders")
				r.Body = `{"sku":"s-1","qty":2}`
				return r
			},
			check: func(t *testing.T, got *seenRequest) {
				if got.Body != `{"sku":"s-1","qty":2}` || got.ContentLength != 21 {
					t.Errorf("body %q length %d", got.Body, got.ContentLength)
				}
			},
		},
		{
			name: "base64 body decoded, length of the decoded bytes",
			req: func() events.APIGatewayV2HTTPRequest {
				r := apiRequest(http.MethodPost, "/upload")
				r.Body = base64.StdEncoding.EncodeToString([]byte{0x00, 0xff, 0x10, 'x'})
				r.IsBase64Encoded = true
				return r
			},
			check: func(t *testing.T, got *seenRequest) {
				if got.Body != "\x00\xff\x10x" || got.ContentLength != 4 {
					t.Errorf("body %q length %d", got.Body, got.ContentLength)
				}
			},
		},
		{
			name: "no body",
			req:  func() events.APIGatewayV2HTTPRequest { return apiRequest(http.MethodGet, "/") },
			check: func(t *testing.T, got *seenRequest) {
				if got.Body != "" || got.ContentLength != 0 {
					t.Errorf("body %q length %d", got.Body, got.ContentLength)
				}
			},
		},
		{
			name: "path parameters readable with PathValue",
			req: func() events.APIGatewayV2HTTPRequest {
				r := apiRequest(http.MethodGet, "/users/u-1/orders/o-2")
				r.PathParameters = map[string]string{"userId": "u-1", "id": "o-2"}
				return r
			},
			values: []string{"userId", "id", "absent"},
			check: func(t *testing.T, got *seenRequest) {
				want := map[string]string{"userId": "u-1", "id": "o-2", "absent": ""}
				if !reflect.DeepEqual(got.PathValues, want) {
					t.Errorf("path values %v, want %v", got.PathValues, want)
				}
			},
		},
		{
			name: "X-Request-Id is API Gateway's, whatever the client sent",
			req: func() events.APIGatewayV2HTTPRequest {
				r := apiRequest(http.MethodGet, "/")
				r.Headers["x-request-id"] = "client-chosen"
				return r
			},
			check: func(t *testing.T, got *seenRequest) {
				if !reflect.DeepEqual(got.Header["X-Request-Id"], []string{"apigw-req-1"}) {
					t.Errorf("X-Request-Id %q", got.Header["X-Request-Id"])
				}
			},
		},
		{
			name: "request context available to the handler",
			req: func() events.APIGatewayV2HTTPRequest {
				r := apiRequest(http.MethodGet, "/me")
				r.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
					Lambda: map[string]any{"sub": "u-42", "scopes": "orders:read"},
				}
				return r
			},
			check: func(t *testing.T, got *seenRequest) {
				if got.APIGateway == nil {
					t.Fatal("APIGatewayContext not in the request context")
				}
				if got.APIGateway.RequestID != "apigw-req-1" || got.APIGateway.RouteKey != "GET /me" ||
					got.APIGateway.Authorizer == nil || got.APIGateway.Authorizer.Lambda["sub"] != "u-42" {
					t.Errorf("request context %+v", got.APIGateway)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, resp := recordRequest(t, tt.req(), tt.values...)
			if got == nil {
				t.Fatalf("handler not called; response %+v", resp)
			}
			tt.check(t, got)
		})
	}
}

// The same handler must work on Knative, where nothing routes in front of it,
// so it is mounted on a ServeMux; on Lambda the mux must agree with API Gateway.
func TestHTTPAdapterBehindServeMux(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /products/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Pattern+" "+r.PathValue("id"))
	})
	req := apiRequest(http.MethodGet, "/products/p-1")
	req.PathParameters = map[string]string{"id": "p-1"}
	resp, err := HTTPAdapter(mux)(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Body != "GET /products/{id} p-1" {
		t.Errorf("%d %q", resp.StatusCode, resp.Body)
	}
}

func TestAPIGatewayContextAbsentOutsideAdapter(t *testing.T) {
	if _, ok := APIGatewayContext(context.Background()); ok {
		t.Error("APIGatewayContext reported a request context on a bare context")
	}
}

func TestHTTPAdapterRejectsMalformedRequests(t *testing.T) {
	tests := []struct {
		name string
		req  func() events.APIGatewayV2HTTPRequest
	}{
		{"bad base64 body", func() events.APIGatewayV2HTTPRequest {
			r := apiRequest(http.MethodPost, "/upload")
			r.Body, r.IsBase64Encoded = "not*base64!", true
			return r
		}},
		{"invalid method", func() events.APIGatewayV2HTTPRequest { return apiRequest("GE T", "/") }},
		{"path that is not a URI", func() events.APIGatewayV2HTTPRequest { return apiRequest(http.MethodGet, "no-leading-slash") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })
			resp, err := HTTPAdapter(h)(context.Background(), tt.req())
			if err != nil {
				t.Fatalf("want a 400 response, got a Lambda error: %v", err)
			}
			if called {
				t.Error("handler called for a malformed request")
			}
			if resp.StatusCode != http.StatusBadRequest || resp.Headers["Content-Type"] != "application/problem+json" {
				t.Fatalf("status %d content type %q", resp.StatusCode, resp.Headers["Content-Type"])
			}
			var p problem.Details
			if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
				t.Fatalf("problem body %q: %v", resp.Body, err)
			}
			if p.Status != http.StatusBadRequest || p.Title != "Bad Request" || p.RequestID != "apigw-req-1" || p.Detail == "" {
				t.Errorf("problem %+v", p)
			}
		})
	}
}

func TestHTTPAdapterResponseMapping(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	tests := []struct {
		name    string
		method  string
		handler http.HandlerFunc
		want    events.APIGatewayV2HTTPResponse
	}{
		{
			name:    "status defaults to 200 with nothing written",
			handler: func(http.ResponseWriter, *http.Request) {},
			want:    events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{}},
		},
		{
			name: "JSON as a plain string",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.WriteHeader(http.StatusCreated)
				_, _ = io.WriteString(w, `{"id":"o-1"}`)
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 201, Headers: map[string]string{"Content-Type": "application/json; charset=utf-8"}, Body: `{"id":"o-1"}`},
		},
		{
			name: "problem+json as a plain string",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusConflict)
				_, _ = w.Write([]byte(`{"status":409}`))
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 409, Headers: map[string]string{"Content-Type": "application/problem+json"}, Body: `{"status":409}`},
		},
		{
			name: "binary as base64",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "image/png")
				_, _ = w.Write(png)
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "image/png"},
				Body: base64.StdEncoding.EncodeToString(png), IsBase64Encoded: true},
		},
		{
			name: "text that is not UTF-8 as base64",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/plain; charset=iso-8859-1")
				_, _ = w.Write([]byte("caf\xe9"))
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "text/plain; charset=iso-8859-1"},
				Body: base64.StdEncoding.EncodeToString([]byte("caf\xe9")), IsBase64Encoded: true},
		},
		{
			name: "every Set-Cookie in the cookies array, other repeated headers joined",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
				http.SetCookie(w, &http.Cookie{Name: "b", Value: "2", HttpOnly: true})
				w.Header().Add("Vary", "Accept")
				w.Header().Add("Vary", "Origin")
				w.WriteHeader(http.StatusNoContent)
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 204, Headers: map[string]string{"Vary": "Accept, Origin"},
				Cookies: []string{"a=1", "b=2; HttpOnly"}},
		},
		{
			name: "missing Content-Type sniffed as net/http does",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte("<!DOCTYPE html><p>hi</p>"))
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "text/html; charset=utf-8"}, Body: "<!DOCTYPE html><p>hi</p>"},
		},
		{
			name: "headers changed after WriteHeader are not sent",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(http.StatusAccepted)
				w.Header().Set("X-Late", "1")
				_, _ = w.Write([]byte("ok"))
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 202, Headers: map[string]string{"Content-Type": "text/plain"}, Body: "ok"},
		},
		{
			name: "second WriteHeader ignored",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusNotFound)
				w.WriteHeader(http.StatusOK)
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 404, Headers: map[string]string{}},
		},
		{
			name:   "HEAD drops the body, keeps the headers",
			method: http.MethodHead,
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"big":true}`))
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			got, err := HTTPAdapter(tt.handler)(context.Background(), apiRequest(method, "/"))
			if err != nil {
				t.Fatalf("adapter error: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestBufferedResponseRefusesBodyWhereHTTPDoes(t *testing.T) {
	for _, status := range []int{http.StatusNoContent, http.StatusNotModified} {
		w := &bufferedResponse{header: make(http.Header)}
		w.WriteHeader(status)
		if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrBodyNotAllowed) {
			t.Errorf("status %d: Write error %v, want ErrBodyNotAllowed", status, err)
		}
		if got := w.result(); got.Body != "" {
			t.Errorf("status %d: body %q", status, got.Body)
		}
	}
}

func TestIsTextual(t *testing.T) {
	tests := map[string]bool{
		"text/plain":                        true,
		"TEXT/HTML; charset=utf-8":          true,
		"application/json":                  true,
		"application/problem+json":          true,
		"application/vnd.api+json":          true,
		"application/xml":                   true,
		"application/atom+xml":              true,
		"application/javascript":            true,
		"application/x-www-form-urlencoded": true,
		"application/octet-stream":          false,
		"application/pdf":                   false,
		"image/png":                         false,
		"image/svg+xml":                     false, // safe either way; base64 is never wrong
		"":                                  false,
	}
	for contentType, want := range tests {
		if got := isTextual(contentType); got != want {
			t.Errorf("isTextual(%q) = %v, want %v", contentType, got, want)
		}
	}
}

// BenchmarkHTTPAdapter measures one API Gateway invocation of a typical JSON
// endpoint: headers, a path parameter, a small JSON body in and out.
func BenchmarkHTTPAdapter(b *testing.B) {
	req := apiRequest(http.MethodPost, "/orders/o-123/items")
	req.PathParameters = map[string]string{"id": "o-123"}
	req.Headers = map[string]string{
		"accept": "application/json", "accept-encoding": "gzip, deflate, br", "authorization": "Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig",
		"content-type": "application/json", "content-length": "64", "host": "api.shop.example", "idempotency-key": "5f0c4c1e-9a57-4c39-9f0e-7d2a9f3b7a11",
		"user-agent": "shop-web/1.0", "x-amzn-trace-id": "Root=1-5f84c7a9-0f1e2d3c4b5a69788796a5b4", "x-forwarded-for": "203.0.113.7",
		"x-forwarded-port": "443", "x-forwarded-proto": "https",
	}
	req.Body = `{"sku":"SKU-0001","quantity":2,"note":"gift wrap, please"}`
	type item struct {
		SKU      string `json:"sku"`
		Quantity int    `json:"quantity"`
		Note     string `json:"note"`
	}
	jsonHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in item
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(struct {
			OrderID string `json:"orderId"`
			item
		}{r.PathValue("id"), in})
	})
	noopHandler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"json", jsonHandler}, {"adapter-only", noopHandler}} {
		b.Run(bc.name, func(b *testing.B) {
			adapter := HTTPAdapter(bc.h)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				resp, err := adapter(ctx, req)
				if err != nil || resp.StatusCode >= 300 || !strings.HasPrefix(resp.Body, "{") {
					b.Fatalf("unexpected response %+v, %v", resp, err)
				}
			}
		})
	}
}
