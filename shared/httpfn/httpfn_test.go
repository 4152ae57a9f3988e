package httpfn

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/shop-serverless/shop/shared/config"
	"github.com/shop-serverless/shop/shared/principal"
	"github.com/shop-serverless/shop/shared/servicetoken"
)

func TestWrapEnforcesTheDeclaredAuthWithProblemBodies(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	v := tokens{
		"user":  {Subject: "u1", Kind: principal.KindUser, Issuer: "shop-users"},
		"admin": {Subject: "ops", Kind: principal.KindService, Issuer: "shop-operator", Scopes: []string{"inventory:write"}},
	}
	for _, tt := range []struct {
		level  string
		token  string
		status int
	}{
		{"none", "", http.StatusNoContent},
		{"scope:inventory:write", "", http.StatusUnauthorized},
		{"scope:inventory:write", "forged", http.StatusUnauthorized},
		{"scope:inventory:write", "user", http.StatusForbidden},
		{"scope:inventory:write", "admin", http.StatusNoContent},
	} {
		h := Wrap(Deps{Config: config.Function{Function: "test-fn", Table: "t", Auth: tt.level}, Verifier: v}, ok)
		req := httptest.NewRequest("POST", "/v1/products", nil)
		req.Header.Set("X-Correlation-Id", "corr-1")
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.status {
			t.Fatalf("%s with %q: status %d, want %d", tt.level, tt.token, rec.Code, tt.status)
		}
		// httpapi.Middleware is outermost: ids are echoed on every answer,
		// refusals included, and refusals are problem bodies.
		if rec.Header().Get("X-Correlation-Id") != "corr-1" || rec.Header().Get("X-Request-Id") == "" {
			t.Fatalf("ids not echoed: %v", rec.Header())
		}
		if tt.status >= 400 {
			var p struct{ Status int }
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != tt.status {
				t.Fatalf("not a problem body: %s", rec.Body)
			}
		}
	}
}

// tokens is a verifier that knows a few tokens by name.
type tokens map[string]servicetoken.Claims

func (v tokens) Verify(_ context.Context, token string, _ ...string) (servicetoken.Claims, error) {
	if c, ok := v[token]; ok {
		return c, nil
	}
	return servicetoken.Claims{}, servicetoken.ErrSignature
}
