package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/shop-serverless/shop/shared/auth"
	"github.com/shop-serverless/shop/shared/principal"
	"github.com/shop-serverless/shop/shared/runtime"
	"github.com/shop-serverless/shop/shared/servicetoken"
)

// fakeVerifier knows a few tokens by heart. "keys-down" stands for a token
// that cannot be checked because the key set cannot be read.
type fakeVerifier map[string]servicetoken.Claims

func (f fakeVerifier) Verify(_ context.Context, token string, _ ...string) (servicetoken.Claims, error) {
	if token == "keys-down" {
		return servicetoken.Claims{}, errors.New("read JWKS parameter: throttled")
	}
	c, ok := f[token]
	if !ok {
		return servicetoken.Claims{}, fmt.Errorf("%w: unknown test token", servicetoken.ErrSignature)
	}
	return c, nil
}

var verifier = fakeVerifier{
	"tok-u1":     {Subject: "u1", Kind: principal.KindUser, Issuer: "shop-users"},
	"tok-u2":     {Subject: "u2", Kind: principal.KindUser, Issuer: "shop-users"},
	"tok-orders": {Subject: "orders", Kind: principal.KindService, Issuer: "shop-orders", Scopes: []string{"things:read", "inventory:write"}},
	"tok-bare":   {Subject: "ops", Kind: principal.KindService, Issuer: "shop-operator"},
}

// invoke runs h the way Lambda does: an API Gateway event through the
// runtime adapter, with token in the Authorization header ("" for none) and
// lambdaCtx as the authorizer's context (nil: none, as for a direct
// invocation or a public route).
func invoke(t *testing.T, h http.Handler, token string, lambdaCtx map[string]any) (int, http.Header, map[string]any) {
	t.Helper()
	req := events.APIGatewayV2HTTPRequest{
		RawPath: "/v1/things/u1",
		Headers: map[string]string{},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "req-1",
			HTTP:      events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/v1/things/u1"},
		},
		PathParameters: map[string]string{"id": "u1"},
	}
	if token != "" {
		req.Headers["authorization"] = "Bearer " + token
	}
	if lambdaCtx != nil {
		req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: lambdaCtx}
	}
	resp, err := runtime.HTTPAdapter(h)(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	header := http.Header{}
	for k, v := range resp.Headers {
		header.Set(k, v)
	}
	var body map[string]any
	_ = json.Unmarshal([]byte(resp.Body), &body)
	return resp.StatusCode, header, body
}

func ok() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, authenticated := principal.FromContext(r.Context())
		if !authenticated {
			w.WriteHeader(http.StatusOK) // a public route
			return
		}
		if err := auth.SelfOrScope(r.Context(), r.PathValue("id"), "things:read"); err != nil {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"subject": p.Subject})
	})
}

// authorizerContext is what the API Gateway authorizer passes on for tok.
func authorizerContext(tok string) map[string]any {
	c := verifier[tok]
	return c.Principal().AuthorizerContext()
}

func TestRequire(t *testing.T) {
	tests := []struct {
		name   string
		level  string
		token  string
		ctx    map[string]any
		status int
	}{
		{"none without token", "none", "", nil, 200},
		{"none ignores a broken token", "none", "garbage", nil, 200},
		{"user without token", "user", "", nil, 401},
		{"user, own resource", "user", "tok-u1", nil, 200},
		{"user, own resource, through API Gateway", "user", "tok-u1", authorizerContext("tok-u1"), 200},
		{"user, someone else's", "user", "tok-u2", authorizerContext("tok-u2"), 403},
		{"service with the read scope", "user", "tok-orders", authorizerContext("tok-orders"), 200},
		{"scope granted", "scope:inventory:write", "tok-orders", nil, 200},
		{"scope missing", "scope:inventory:write", "tok-u1", nil, 403},
		{"scope missing for a service", "scope:inventory:write", "tok-bare", nil, 403},
		{"scope without token", "scope:inventory:write", "", nil, 401},
		{"invalid token", "user", "garbage", nil, 401},
		{"keys cannot be read: 503, not a verdict", "user", "keys-down", nil, 503},
		{"mistyped level fails closed", "scopes:x", "tok-u1", nil, 500},

		// A direct invocation (no API Gateway) can carry any authorizer
		// context it likes: it is never believed on its own.
		{"forged context without a token", "user", "", authorizerContext("tok-u1"), 401},
		{"forged context with a garbage token", "scope:inventory:write", "garbage", authorizerContext("tok-orders"), 401},
		{"context naming another user than the token", "user", "tok-u2", authorizerContext("tok-u1"), 401},
		{"context granting scopes the token lacks", "scope:inventory:write", "tok-bare",
			principal.Principal{Subject: "ops", Kind: principal.KindService, Issuer: "shop-operator", Scopes: []string{"inventory:write"}}.AuthorizerContext(), 401},
		{"unreadable context", "user", "tok-u1", map[string]any{"principal": "u1", "kind": "admin"}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, header, body := invoke(t, auth.Require(tt.level, verifier, ok()), tt.token, tt.ctx)
			if status != tt.status {
				t.Fatalf("status %d, want %d (body %v)", status, tt.status, body)
			}
			if status >= 400 && status != 403 && body["status"] != float64(tt.status) {
				t.Fatalf("not a problem body: %v", body)
			}
			if status == 401 && !strings.HasPrefix(header.Get("WWW-Authenticate"), "Bearer ") {
				t.Fatalf("401 without a Bearer challenge: %v", header)
			}
			if status == 200 && tt.token != "" && tt.level != "none" && body["subject"] != verifier[tt.token].Subject {
				t.Fatalf("handler saw subject %v, want the token's %s", body["subject"], verifier[tt.token].Subject)
			}
		})
	}
}

func TestRequireWithoutVerifierFailsClosed(t *testing.T) {
	if status, _, _ := invoke(t, auth.Require("user", nil, ok()), "tok-u1", nil); status != 500 {
		t.Fatalf("status %d, want 500", status)
	}
}

func TestServiceCaller(t *testing.T) {
	check := auth.ServiceCaller(verifier, "inventory:write")
	for _, tt := range []struct {
		header string
		status int
	}{
		{"", 401},
		{"Bearer garbage", 401},
		{"Bearer keys-down", 503},
		{"Bearer tok-u1", 403},   // a user, however authenticated, is not a service
		{"Bearer tok-bare", 403}, // a service without the scope
		{"Bearer tok-orders", 0},
	} {
		r := httptest.NewRequest("POST", "/", nil)
		if tt.header != "" {
			r.Header.Set("Authorization", tt.header)
		}
		if status, detail := check(r); status != tt.status || (status != 0 && detail == "") {
			t.Errorf("%q: status %d (%q), want %d", tt.header, status, detail, tt.status)
		}
	}
}
