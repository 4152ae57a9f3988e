package httpfn

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/shop-serverless/shop/shared/auth"
	"github.com/shop-serverless/shop/shared/config"
)

func TestWrapEnforcesTheDeclaredAuthWithProblemBodies(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, tt := range []struct {
		level  string
		p      *auth.Principal
		status int
	}{
		{"none", nil, http.StatusNoContent},
		{"scope:inventory:write", nil, http.StatusUnauthorized},
		{"scope:inventory:write", &auth.Principal{Subject: "u1", Kind: auth.KindUser}, http.StatusForbidden},
		{"scope:inventory:write", &auth.Principal{Subject: "ops", Kind: auth.KindService, Scopes: []string{"inventory:write"}}, http.StatusNoContent},
	} {
		h := Wrap(Deps{Config: config.Function{Function: "test-fn", Table: "t", Auth: tt.level}}, ok)
		req := httptest.NewRequest("POST", "/v1/products", nil)
		req.Header.Set("X-Correlation-Id", "corr-1")
		if tt.p != nil {
			req = req.WithContext(auth.WithPrincipal(req.Context(), *tt.p))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.status {
			t.Fatalf("%s with %+v: status %d, want %d", tt.level, tt.p, rec.Code, tt.status)
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
