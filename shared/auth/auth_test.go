package auth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/shop-serverless/shop/shared/auth"
	"github.com/shop-serverless/shop/shared/runtime"
)

// invoke runs h the way Lambda does: an API Gateway event through the
// runtime adapter, with lambdaCtx as the authorizer's context (nil: none).
func invoke(t *testing.T, h http.Handler, lambdaCtx map[string]any) (int, map[string]any) {
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
	if lambdaCtx != nil {
		req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: lambdaCtx}
	}
	resp, err := runtime.HTTPAdapter(h)(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.Unmarshal([]byte(resp.Body), &body)
	return resp.StatusCode, body
}

func ok() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, authenticated := auth.FromContext(r.Context())
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

func TestRequire(t *testing.T) {
	user := func(sub string) map[string]any {
		return map[string]any{"principal": sub, "kind": "user", "scopes": "", "issuer": "shop-users"}
	}
	service := map[string]any{"principal": "orders", "kind": "service", "scopes": "things:read inventory:write", "issuer": "shop-orders"}
	tests := []struct {
		name   string
		level  string
		ctx    map[string]any
		status int
	}{
		{"none without token", "none", nil, 200},
		{"user without principal", "user", nil, 401},
		{"user, own resource", "user", user("u1"), 200},
		{"user, someone else's", "user", user("u2"), 403},
		{"service with the read scope", "user", service, 200},
		{"scope granted", "scope:inventory:write", service, 200},
		{"scope missing", "scope:inventory:write", user("u1"), 403},
		{"scope without principal", "scope:inventory:write", nil, 401},
		{"forged kind", "user", map[string]any{"principal": "u1", "kind": "admin"}, 401},
		{"no subject", "user", map[string]any{"kind": "user"}, 401},
		{"mistyped level fails closed", "scopes:x", user("u1"), 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := invoke(t, auth.Require(tt.level, ok()), tt.ctx)
			if status != tt.status {
				t.Fatalf("status %d, want %d (body %v)", status, tt.status, body)
			}
			if status == 401 || status == 500 {
				if body["status"] != float64(tt.status) {
					t.Fatalf("not a problem body: %v", body)
				}
			}
		})
	}
}

func TestPrincipalHasScope(t *testing.T) {
	p := auth.Principal{Scopes: []string{"a:b", "c:d"}}
	if !p.HasScope("c:d") || p.HasScope("c") || p.HasScope("") {
		t.Fatal("HasScope must match whole scopes only")
	}
}
