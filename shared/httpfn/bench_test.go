package httpfn

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/shop-serverless/shop/shared/config"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/metrics"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/runtime"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/servicetoken/ssmkeys"
)

// The shared edge against a bare net/http handler doing the same JSON work
// (decode a small order line, encode it back with an id), layer by layer:
//
//	bare          the handler, given an *http.Request parsed from the wire
//	              (httptest.NewRequest) and an httptest.ResponseRecorder
//	adapter       + runtime.HTTPAdapter: API Gateway event in, response event
//	              out (the invocation span included, under Lambda's trace
//	              header, unsampled, as on Lambda)
//	edge          + httpfn.Wrap with auth "none": ids, access log, metrics,
//	              panics (httpapi.Middleware), the fault switch (off): what
//	              every function pays; the budget is 2x bare
//	edge-verify   + auth "user": the bearer token verified (Ed25519), keys
//	              from a warm ssmkeys cache
//	edge-verify-cached  the same with the verified-token cache
//	              (servicetoken.WithVerifiedCache, as ssmkeys.NewVerifier
//	              makes it): the caller's token seen before
//
// Logs and metrics go to /dev/null: a write per line, as to Lambda's stdout
// pipe, without filling the benchmark's output.
func BenchmarkEdge(b *testing.B) {
	b.Cleanup(metrics.Redirect(devNull(b)))
	const prefix = "bench"
	token, verifier, cached := userToken(b, prefix)
	event := orderLineEvent("Bearer " + token)
	logger := benchLogger(b)

	for _, bc := range []struct {
		name  string
		serve func() (status int, body string)
	}{
		{"bare", func() (int, string) {
			rec := httptest.NewRecorder()
			bareJSON.ServeHTTP(rec, wireRequest(event))
			return rec.Code, rec.Body.String()
		}},
		{"adapter", adapterServe(bareJSON, event)},
		{"edge", adapterServe(Wrap(Deps{Config: benchConfig("none"), Logger: logger}, bareJSON), event)},
		{"edge-verify", adapterServe(Wrap(Deps{Config: benchConfig("user"), Verifier: verifier, Logger: logger}, bareJSON), event)},
		{"edge-verify-cached", adapterServe(Wrap(Deps{Config: benchConfig("user"), Verifier: cached, Logger: logger}, bareJSON), event)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if status, body := bc.serve(); status != http.StatusCreated || !strings.Contains(body, `"orderId":"o-123"`) {
					b.Fatalf("%s: status %d, body %s", bc.name, status, body)
				}
			}
		})
	}
}

type orderLine struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
	Note     string `json:"note"`
}

// bareJSON is the work every layer wraps: read a JSON body, answer JSON.
var bareJSON = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	var in orderLine
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	body, err := json.Marshal(struct {
		OrderID string `json:"orderId"`
		orderLine
	}{r.PathValue("id"), in})
	if err != nil {
		http.Error(w, "encode", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(body)
})

func adapterServe(h http.Handler, event events.APIGatewayV2HTTPRequest) func() (int, string) {
	adapter := runtime.HTTPAdapter(h)
	// What aws-lambda-go puts in every invocation's context under this
	// plain string key (Lambda-Runtime-Trace-Id): Lambda's own segment,
	// with its sampling decision, which tracing.Invocation follows (an
	// unsampled request, as most are at X-Ray's default 1/s + 5%).
	//lint:ignore SA1029 the key aws-lambda-go uses
	ctx := context.WithValue(context.Background(), lambdaTraceKey, "Root=1-5f84c7a9-0f1e2d3c4b5a69788796a5b4;Parent=53995c3f42cd8ad8;Sampled=0")
	return func() (int, string) {
		resp, err := adapter(ctx, event)
		if err != nil {
			return 0, err.Error()
		}
		return resp.StatusCode, resp.Body
	}
}

// orderLineEvent is a typical API Gateway HTTP API (2.0) event: a dozen
// headers, a path parameter, a small JSON body.
func orderLineEvent(authorization string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "POST /v1/orders/{id}/lines", RawPath: "/v1/orders/o-123/lines",
		Headers: map[string]string{
			"accept": "application/json", "accept-encoding": "gzip, deflate, br", "authorization": authorization,
			"content-type": "application/json", "content-length": "58", "host": "api.shop.example",
			"user-agent": "shop-web/1.0", "x-amzn-trace-id": "Root=1-5f84c7a9-0f1e2d3c4b5a69788796a5b4", "x-forwarded-for": "203.0.113.7",
			"x-forwarded-port": "443", "x-forwarded-proto": "https", "x-correlation-id": "corr-5f84c7a9",
		},
		PathParameters: map[string]string{"id": "o-123"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "Jh8kQgLzIAMEV0Q=", DomainName: "api.shop.example", Stage: "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodPost, Path: "/v1/orders/o-123/lines", Protocol: "HTTP/1.1", SourceIP: "203.0.113.7"},
		},
		Body: `{"sku":"SKU-0001","quantity":2,"note":"gift wrap, please"}`,
	}
}

// wireRequest is what net/http's server would hand the bare handler for
// the same request.
func wireRequest(e events.APIGatewayV2HTTPRequest) *http.Request {
	r := httptest.NewRequest(e.RequestContext.HTTP.Method, e.RawPath, strings.NewReader(e.Body))
	for k, v := range e.Headers {
		r.Header.Set(k, v)
	}
	for k, v := range e.PathParameters {
		r.SetPathValue(k, v)
	}
	return r
}

func benchConfig(auth string) config.Function {
	return config.Function{Service: "orders", Function: "bench-fn", Table: "bench-table", Prefix: "bench", Auth: auth}
}

// benchLogger is log.New's logger, writing to /dev/null.
func benchLogger(b *testing.B) *slog.Logger {
	return slog.New(log.NewHandler(devNull(b), slog.LevelInfo)).With(slog.String(log.KeyService, "orders"), slog.String(log.KeyFunction, "bench-fn"))
}

func devNull(b *testing.B) *os.File {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Close() })
	return f
}

// userToken is a user token signed by the users issuer, and two verifiers
// of the deployment prefix that have its key in a warm cache (ssmkeys,
// read once from a stand-in parameter): one that checks every signature,
// one that remembers verified tokens (as ssmkeys.NewVerifier's does).
func userToken(b *testing.B, prefix string) (token string, verifier, cached *servicetoken.Verifier) {
	b.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		b.Fatal(err)
	}
	issuer := naming.Issuer(prefix, naming.UserTokenService)
	doc, err := servicetoken.ParseJWKSDocument([]byte(`{"keys":[]}`))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := doc.Upsert(issuer, "users-1", pub, servicetoken.Policy{Kinds: []string{servicetoken.KindUser}}); err != nil {
		b.Fatal(err)
	}
	jwks, err := doc.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	newVerifier := func(opts ...servicetoken.Option) *servicetoken.Verifier {
		keys := ssmkeys.NewKeySource(parameter(jwks), naming.JWKSParameter(prefix), 0)
		return servicetoken.NewVerifier(keys, naming.Audience(prefix), append(opts, servicetoken.WithUserIssuer(issuer))...)
	}
	verifier, cached = newVerifier(), newVerifier(servicetoken.WithVerifiedCache(servicetoken.DefaultVerifiedCacheSize))
	token, _, err = servicetoken.NewSigner(issuer, "users-1", priv).Issue(servicetoken.KindUser, "u-42", []string{naming.Audience(prefix)}, nil, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range []*servicetoken.Verifier{verifier, cached} {
		if _, err := v.Verify(context.Background(), token); err != nil {
			b.Fatal(err)
		}
	}
	return token, verifier, cached
}

// lambdaTraceKey is aws-lambda-go's context key of the trace header.
const lambdaTraceKey = "x-amzn-trace-id"

// parameter is an ssmkeys.ParameterReader with one value.
type parameter []byte

func (p parameter) ReadParameter(context.Context, string) (string, error) { return string(p), nil }
