package runtime

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/shop-serverless/shop/shared/problem"
	"github.com/shop-serverless/shop/shared/tracing"
)

type apiGatewayContextKey struct{}

// APIGatewayContext returns the request context of the API Gateway request
// being served: authorizer output, request id, route key, stage. It is absent
// on Knative, where no API Gateway sits in front of the function.
func APIGatewayContext(ctx context.Context) (events.APIGatewayV2HTTPRequestContext, bool) {
	rc, ok := ctx.Value(apiGatewayContextKey{}).(*events.APIGatewayV2HTTPRequestContext)
	if !ok {
		return events.APIGatewayV2HTTPRequestContext{}, false
	}
	return *rc, true
}

// HTTPAdapter turns h into an API Gateway HTTP API (payload format 2.0)
// handler. A request that cannot be represented as an *http.Request gets a 400
// problem response rather than a Lambda error, since retrying cannot fix it
// and API Gateway would turn an invocation error into an opaque 500.
func HTTPAdapter(h http.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		// Outermost, so that everything below (the log context's trace id
		// included) runs inside the invocation's span. Only a header with a
		// Parent continues a caller's trace (shared/client sends one); API
		// Gateway's own has none.
		ctx, span := tracing.Invocation(ctx, headerValue(req.Headers, tracing.HeaderName))
		defer span.End(nil) // the outcome is the status; a panic still ends the span
		r, err := newHTTPRequest(ctx, &req)
		if err != nil {
			detail := "malformed request"
			if bad := (badRequestError{}); errors.As(err, &bad) {
				detail = bad.detail
			}
			slog.WarnContext(ctx, "runtime: rejected API Gateway request",
				"requestId", req.RequestContext.RequestID, "error", err)
			span.SetHTTP(req.RequestContext.HTTP.Method, req.RequestContext.HTTP.Path, http.StatusBadRequest)
			return problemResponse(http.StatusBadRequest, detail, req.RequestContext.RequestID), nil
		}
		w := &bufferedResponse{header: make(http.Header), head: r.Method == http.MethodHead}
		h.ServeHTTP(w, r)
		res := w.result()
		span.SetHTTP(r.Method, r.URL.Path, res.StatusCode) // never the query: it may carry what a trace must not
		return res, nil
	}
}

// headerValue finds a header in API Gateway's map whatever its case: HTTP
// APIs lower-case names, other sources (the emulator, tests) may not.
func headerValue(headers map[string]string, name string) string {
	if v, ok := headers[strings.ToLower(name)]; ok {
		return v
	}
	for k, v := range headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// badRequestError marks a request API Gateway accepted but that is malformed;
// detail is safe to show to the caller, the wrapped cause is only logged.
type badRequestError struct {
	detail string
	cause  error
}

func (e badRequestError) Error() string { return e.detail + ": " + e.cause.Error() }
func (e badRequestError) Unwrap() error { return e.cause }

func newHTTPRequest(ctx context.Context, req *events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	rc := &req.RequestContext

	target := req.RawPath
	if target == "" {
		target = rc.HTTP.Path
	}
	if target == "" {
		target = "/"
	}
	// ParseRequestURI is what net/http applies to a request line, so the
	// handler sees the same URL on both runtimes.
	u, err := url.ParseRequestURI(reescapePath(target))
	if err != nil {
		return nil, badRequestError{detail: "request path is not a valid URI", cause: err}
	}
	u.RawQuery = req.RawQueryString

	var body io.ReadCloser = http.NoBody
	var length int64
	if req.Body != "" {
		if req.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(req.Body)
			if err != nil {
				return nil, badRequestError{detail: "request body is not valid base64", cause: err}
			}
			body, length = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		} else {
			body, length = io.NopCloser(strings.NewReader(req.Body)), int64(len(req.Body))
		}
	}

	method := rc.HTTP.Method
	if method == "" {
		method = http.MethodGet
	}
	r, err := http.NewRequestWithContext(context.WithValue(ctx, apiGatewayContextKey{}, rc), method, "", nil)
	if err != nil {
		return nil, badRequestError{detail: "request method is not valid", cause: err}
	}
	r.URL = u
	r.RequestURI = u.RequestURI()
	if major, minor, ok := http.ParseHTTPVersion(rc.HTTP.Protocol); ok {
		r.Proto, r.ProtoMajor, r.ProtoMinor = rc.HTTP.Protocol, major, minor
	}
	r.Body, r.ContentLength = body, length
	r.RemoteAddr = rc.HTTP.SourceIP

	r.Header = make(http.Header, len(req.Headers)+2)
	// One backing array for all the single-value slices, as net/textproto
	// does when it reads a request: one allocation instead of one per header.
	values := make([]string, 0, len(req.Headers))
	for k, v := range req.Headers {
		values = append(values, v)
		r.Header[textproto.CanonicalMIMEHeaderKey(k)] = values[len(values)-1 : len(values) : len(values)]
	}
	// net/http moves Host out of the header map; do the same so handlers
	// have one place to look.
	r.Host = r.Header.Get("Host")
	delete(r.Header, "Host")
	if r.Host == "" {
		r.Host = rc.DomainName
	}
	// AWS moves request cookies into the cookies array; the local emulator
	// leaves them in the cookie header, which then passes through untouched.
	if len(req.Cookies) > 0 {
		r.Header["Cookie"] = []string{strings.Join(req.Cookies, "; ")}
	}
	// The id API Gateway logs is the one worth correlating with; a client
	// could send anything.
	if rc.RequestID != "" {
		r.Header["X-Request-Id"] = []string{rc.RequestID}
	}
	for k, v := range req.PathParameters {
		r.SetPathValue(k, v)
	}
	return r, nil
}

// reescapePath makes a path API Gateway has already decoded parseable again.
// An HTTP API decodes every escape in rawPath except %25, so a client's
// "/a%20b" or "/a%3Fb" arrives as "/a b" or "/a?b"; parsed as is, the second
// would lose "b" to the query. Escaping only what can never appear literally
// in an encoded path (and a % that starts no escape) restores the client's
// path, and leaves an already-encoded path, as other sources send, unchanged.
func reescapePath(p string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	escaped := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		literal := c > ' ' && c < 0x7f && c != '?' && c != '#' &&
			(c != '%' || i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]))
		switch {
		case literal && escaped:
			b.WriteByte(c)
		case literal: // nothing escaped yet: p is copied only once something is
		default:
			if !escaped {
				escaped = true
				b.Grow(len(p) + 8)
				b.WriteString(p[:i])
			}
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0x0f])
		}
	}
	if !escaped {
		return p
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// bufferedResponse collects a handler's response for one Lambda invocation.
// It mirrors the net/http server where a handler could tell the difference:
// headers are frozen at WriteHeader, a missing Content-Type is sniffed, HEAD
// and bodyless statuses drop the body.
type bufferedResponse struct {
	header http.Header
	sent   http.Header
	status int
	body   bytes.Buffer
	head   bool
}

func (w *bufferedResponse) Header() http.Header { return w.header }

func (w *bufferedResponse) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code)) // as net/http does
	}
	// API Gateway cannot relay informational responses; the final one follows.
	if w.status != 0 || code < 200 {
		return
	}
	w.status = code
	w.sent = w.header.Clone()
}

func (w *bufferedResponse) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.head {
		return len(p), nil
	}
	return w.body.Write(p)
}

func (w *bufferedResponse) WriteString(s string) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.head {
		return len(s), nil
	}
	return w.body.WriteString(s)
}

func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified
}

func (w *bufferedResponse) result() events.APIGatewayV2HTTPResponse {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	resp := events.APIGatewayV2HTTPResponse{
		StatusCode: w.status,
		Headers:    make(map[string]string, len(w.sent)+1),
	}
	for k, vs := range w.sent {
		switch {
		case len(vs) == 0:
		// Payload 2.0 has no multi-value headers; the cookies array is the
		// only way to return several cookies, so every Set-Cookie goes there.
		case strings.EqualFold(k, "Set-Cookie"):
			resp.Cookies = append(resp.Cookies, vs...)
		default:
			resp.Headers[k] = strings.Join(vs, ", ")
		}
	}
	body := w.body.Bytes()
	contentType, declared := resp.Headers["Content-Type"]
	// A present-but-nil Content-Type is net/http's way to suppress sniffing.
	if _, present := w.sent["Content-Type"]; !present && len(body) > 0 {
		contentType = http.DetectContentType(body)
		resp.Headers["Content-Type"] = contentType
		declared = true
	}
	switch {
	case len(body) == 0:
	case declared && isTextual(contentType) && utf8.Valid(body):
		resp.Body = string(body)
	default:
		resp.Body = base64.StdEncoding.EncodeToString(body)
		resp.IsBase64Encoded = true
	}
	return resp
}

// isTextual reports whether a body of this media type can travel as a JSON
// string. Anything else goes base64, as do textual bodies that are not valid
// UTF-8, which JSON encoding would otherwise silently mangle.
func isTextual(contentType string) bool {
	mediaType, _, _ := strings.Cut(contentType, ";")
	mediaType = strings.ToLower(strings.TrimSpace(mediaType))
	if strings.HasPrefix(mediaType, "text/") {
		return true
	}
	switch mediaType {
	case "application/json", "application/xml", "application/javascript", "application/x-www-form-urlencoded":
		return true
	}
	return strings.HasPrefix(mediaType, "application/") &&
		(strings.HasSuffix(mediaType, "+json") || strings.HasSuffix(mediaType, "+xml"))
}

func problemResponse(status int, detail, requestID string) events.APIGatewayV2HTTPResponse {
	p := problem.New(status, detail)
	p.RequestID = requestID
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": problem.ContentType},
		Body:       string(p.Marshal()),
	}
}
