package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/shop-serverless/shop/shared/principal"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/tracing"
	"github.com/shop-serverless/shop/shared/tracing/tracingtest"
)

// claimsVerifier accepts every token as claims.
type claimsVerifier struct{ claims servicetoken.Claims }

func (v claimsVerifier) Verify(context.Context, string, ...string) (servicetoken.Claims, error) {
	return v.claims, nil
}

// A user's request is annotated with the user's id; a service's with none.
func TestTheCallersUserIsAnnotated(t *testing.T) {
	for _, tt := range []struct {
		name   string
		claims servicetoken.Claims
		want   any
	}{
		{"user", servicetoken.Claims{Subject: "u-1", Kind: principal.KindUser}, "u-1"},
		{"service", servicetoken.Claims{Subject: "orders", Kind: principal.KindService, Scopes: []string{"users:read"}}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := tracingtest.StartDaemon(t)
			ctx, span := tracing.Invocation(context.Background(), "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
			r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
			r.Header.Set("Authorization", "Bearer t")
			h := Require("user", claimsVerifier{tt.claims}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			span.End(nil)
			if rec.Code != http.StatusNoContent {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if got := d.Wait(1)[0].Obj("annotations")["userId"]; got != tt.want {
				t.Errorf("userId annotation %v, want %v", got, tt.want)
			}
		})
	}
}
