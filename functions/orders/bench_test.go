package orders

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/shop-serverless/shop/shared/money"
	"github.com/shop-serverless/shop/shared/principal"
	"github.com/shop-serverless/shop/shared/store/dynamostub"
)

// BenchmarkHandlers is GET /v1/orders/{id} (its customer reading it: one
// GetItem behind dynamostub, the ownership check) next to a bare net/http
// handler encoding the same order without storage.
func BenchmarkHandlers(b *testing.B) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	o := Order{ID: "0193a1e2-7b4c-7d2e-9f10-3c4d5e6f7a8b", UserID: "0193a1e2-0000-7d2e-9f10-3c4d5e6f7a8b", CustomerName: "Ada Lovelace",
		Status: StatusConfirmed, Total: money.Money{Amount: 3750, Currency: "EUR"},
		Items: []Line{
			{ProductID: "0193a1e2-1111-7d2e-9f10-3c4d5e6f7a8b", SKU: "SKU-0001", Name: "Espresso cup", Quantity: 2, UnitPrice: money.Money{Amount: 1250, Currency: "EUR"}},
			{ProductID: "0193a1e2-2222-7d2e-9f10-3c4d5e6f7a8b", SKU: "SKU-0002", Name: "Saucer", Quantity: 1, UnitPrice: money.Money{Amount: 1250, Currency: "EUR"}},
		},
		History:   []Change{{Status: StatusPending, At: now}, {Status: StatusConfirmed, At: now.Add(2 * time.Second)}},
		CreatedAt: now, UpdatedAt: now.Add(2 * time.Second), Version: 2, PaymentToken: "tok_visa",
	}
	item, err := attributevalue.MarshalMap(stateItem{PK: orderPK(o.ID), SK: skState, GSI1PK: "USER#" + o.UserID, GSI1SK: userSK(o), Order: o})
	if err != nil {
		b.Fatal(err)
	}
	srv := dynamostub.New(b)
	srv.Answer("GetItem", `{"Item":`+dynamostub.ItemJSON(item)+`}`)
	st := NewStore(srv.Client(), "orders")
	caller := principal.Principal{Subject: o.UserID, Kind: principal.KindUser, Issuer: "shop-users"}

	dynamostub.Bench(b, dynamostub.Request{PathID: o.ID, With: func(ctx context.Context) context.Context { return principal.WithContext(ctx, caller) }}, []dynamostub.Case{
		{Name: "get/bare", Target: "/v1/orders/" + o.ID, Status: http.StatusOK, Want: `"status":"CONFIRMED"`,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { dynamostub.Bare(w, http.StatusOK, "2", o) })},
		{Name: "get/store", Target: "/v1/orders/" + o.ID, Status: http.StatusOK, Want: `"status":"CONFIRMED"`, Handler: Get(st)},
	})
}
