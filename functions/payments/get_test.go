package payments

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"

	"github.com/shop-serverless/shop/functions/provider"
	"github.com/shop-serverless/shop/shared/principal"
)

func TestGetOwnerOnly(t *testing.T) {
	r := newRig(t, nil)
	in := chargeIn(provider.TokenVisa)
	if _, err := r.charge(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /v1/orders/{id}/payment", Get(r.st))
	get := func(orderID string, p principal.Principal) (int, View) {
		req := httptest.NewRequest(http.MethodGet, "/v1/orders/"+orderID+"/payment", nil)
		req = req.WithContext(principal.WithContext(req.Context(), p))
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		var v View
		_ = json.Unmarshal(rec.Body.Bytes(), &v)
		return rec.Code, v
	}
	owner := principal.Principal{Kind: principal.KindUser, Subject: in.UserID}
	code, v := get(in.OrderID, owner)
	if code != 200 || v.Status != StatusCharged || v.Attempts != 1 || v.ProviderRef == "" || *v.Amount != in.Amount {
		t.Fatalf("owner: %d %+v", code, v)
	}
	if code, _ := get(in.OrderID, principal.Principal{Kind: principal.KindUser, Subject: uuid.NewString()}); code != 403 {
		t.Fatalf("another user: %d, want 403", code)
	}
	if code, _ := get(in.OrderID, principal.Principal{Kind: principal.KindService, Subject: "orders", Scopes: []string{ScopeRead}}); code != 200 {
		t.Fatalf("service with %s: %d, want 200", ScopeRead, code)
	}
	if code, _ := get(uuid.NewString(), owner); code != 404 {
		t.Fatalf("unknown order: %d, want 404", code)
	}
}
