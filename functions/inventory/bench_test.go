package inventory

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/shop-serverless/shop/shared/money"
	"github.com/shop-serverless/shop/shared/store/dynamostub"
)

// BenchmarkHandlers is each inventory handler with its table behind
// dynamostub (the SDK's real client, one loopback round trip per call),
// next to a bare net/http handler doing the same JSON work without
// storage (decode the body, encode the product):
//
//	get/bare, get/store        GET /v1/products/{id}: one GetItem
//	list/bare, list/store      GET /v1/products?limit=20: one Query, 20 items
//	create/bare, create/store  POST /v1/products: decode, validate, one
//	                           TransactWriteItems (product and SKU guard)
func BenchmarkHandlers(b *testing.B) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	p := Product{ID: "0193a1e2-7b4c-7d2e-9f10-3c4d5e6f7a8b", SKU: "SKU-0001", Name: "Espresso cup", Price: money.Money{Amount: 1250, Currency: "EUR"},
		Available: 40, Reserved: 2, Sold: 7, LowStockThreshold: 5, CreatedAt: now, UpdatedAt: now, Version: 3}
	item, err := attributevalue.MarshalMap(productItem{PK: "PRODUCT#" + p.ID, SK: skProduct, GSI1PK: gsi1Product, GSI1SK: p.ID, Product: p})
	if err != nil {
		b.Fatal(err)
	}
	srv := dynamostub.New(b)
	srv.Answer("GetItem", `{"Item":`+dynamostub.ItemJSON(item)+`}`)
	items := make([]string, 20)
	for i := range items {
		items[i] = dynamostub.ItemJSON(item)
	}
	srv.Answer("Query", `{"Count":20,"ScannedCount":20,"Items":[`+strings.Join(items, ",")+`]}`)
	st := NewStore(srv.Client(), "inventory")
	page := make([]Product, 20)
	for i := range page {
		page[i] = p
	}
	const createBody = `{"sku":"SKU-0001","name":"Espresso cup","price":{"amount":1250,"currency":"EUR"},"stock":40}`

	const want = `"sku":"SKU-0001"`
	dynamostub.Bench(b, dynamostub.Request{PathID: p.ID}, []dynamostub.Case{
		{Name: "get/bare", Target: "/v1/products/" + p.ID, Status: http.StatusOK, Want: want,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { dynamostub.Bare(w, http.StatusOK, "3", p) })},
		{Name: "get/store", Target: "/v1/products/" + p.ID, Status: http.StatusOK, Want: want, Handler: Get(st)},
		{Name: "list/bare", Target: "/v1/products?limit=20", Status: http.StatusOK, Want: want,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				dynamostub.Bare(w, http.StatusOK, "3", Page{Items: page})
			})},
		{Name: "list/store", Target: "/v1/products?limit=20", Status: http.StatusOK, Want: want, Handler: List(st)},
		{Name: "create/bare", Method: http.MethodPost, Target: "/v1/products", Body: createBody, Status: http.StatusCreated, Want: want,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var req CreateRequest
				if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
					http.Error(w, "bad body", http.StatusBadRequest)
					return
				}
				dynamostub.Bare(w, http.StatusCreated, "1", Product{ID: p.ID, SKU: req.SKU, Name: req.Name, Price: req.Price, Available: req.Stock,
					LowStockThreshold: DefaultLowStockThreshold, CreatedAt: now, UpdatedAt: now, Version: 1})
			})},
		{Name: "create/store", Method: http.MethodPost, Target: "/v1/products", Body: createBody, Status: http.StatusCreated, Want: want, Handler: Create(st)},
	})
}
