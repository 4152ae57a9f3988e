package orders

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/principal"
	"github.com/shop-serverless/shop/shared/store"
	"github.com/shop-serverless/shop/shared/tracing"
	"github.com/shop-serverless/shop/shared/tracing/tracingtest"
)

// emptyTable is a table without any order.
type emptyTable struct{ store.DB }

func (emptyTable) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{}, nil
}

// noUsers knows no customer.
type noUsers struct{}

func (noUsers) Customer(context.Context, string) (Customer, error) { return Customer{}, ErrUnknownUser }

// noProducts knows no product.
type noProducts struct{}

func (noProducts) Products(context.Context, []string) ([]Product, error) { return nil, nil }

// The order handlers annotate their span with the order they are about,
// whatever they answer: annotation.orderId finds every API call of it.
func TestOrderHandlersAnnotateTheOrder(t *testing.T) {
	const id = "0190a1b2-0000-8000-8000-000000000001"
	st := NewStore(emptyTable{}, "test-orders")
	customer := principal.Principal{Subject: "u1", Kind: principal.KindUser}
	for _, tt := range []struct {
		name string
		h    http.Handler
		req  func() *http.Request
		want string
	}{
		{"get", Get(st), func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/v1/orders/"+id, nil)
			r.SetPathValue("id", id)
			return r
		}, id},
		{"cancel", Cancel(st, nil), func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/v1/orders/"+id+"/cancel", nil)
			r.SetPathValue("id", id)
			return r
		}, id},
		{"create", Create(st, noUsers{}, noProducts{}, nil), func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/v1/orders", strings.NewReader(`{"items":[{"productId":"`+pA+`","quantity":1}],"paymentMethod":{"token":"tok_visa"}}`))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set(httpapi.HeaderIdempotencyKey, "k-1")
			return r
		}, OrderID("u1", "k-1")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := tracingtest.StartDaemon(t)
			ctx, span := tracing.Invocation(context.Background(), "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, tt.req().WithContext(principal.WithContext(ctx, customer)))
			span.End(nil)
			if rec.Code < 400 {
				t.Fatalf("status %d: the fakes should refuse", rec.Code)
			}
			if got := d.Wait(1)[0].Obj("annotations")["orderId"]; got != tt.want {
				t.Errorf("orderId annotation %v, want %s", got, tt.want)
			}
		})
	}
}
