package inventory

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
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

	writeJSON := func(w http.ResponseWriter, status int, v any) {
		body, _ := json.Marshal(v)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", strconv.Quote("3"))
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
	for _, bc := range []struct {
		name, method, target, body string
		h                          http.Handler
		status                     int
	}{
		{"get/bare", "GET", "/v1/products/" + p.ID, "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, p)
		}), http.StatusOK},
		{"get/store", "GET", "/v1/products/" + p.ID, "", Get(st), http.StatusOK},
		{"list/bare", "GET", "/v1/products?limit=20", "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, Page{Items: page})
		}), http.StatusOK},
		{"list/store", "GET", "/v1/products?limit=20", "", List(st), http.StatusOK},
		{"create/bare", "POST", "/v1/products", createBody, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var req CreateRequest
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				http.Error(w, "bad body", http.StatusBadRequest)
				return
			}
			writeJSON(w, http.StatusCreated, Product{ID: p.ID, SKU: req.SKU, Name: req.Name, Price: req.Price, Available: req.Stock,
				LowStockThreshold: DefaultLowStockThreshold, CreatedAt: now, UpdatedAt: now, Version: 1})
		}), http.StatusCreated},
		{"create/store", "POST", "/v1/products", createBody, Create(st), http.StatusCreated},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(bc.method, bc.target, strings.NewReader(bc.body))
				if bc.body != "" {
					r.Header.Set("Content-Type", "application/json")
				}
				r.SetPathValue("id", p.ID)
				rec := httptest.NewRecorder()
				bc.h.ServeHTTP(rec, r)
				if rec.Code != bc.status || !strings.Contains(rec.Body.String(), `"sku":"SKU-0001"`) {
					b.Fatalf("status %d, body %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
