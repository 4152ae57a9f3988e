package tests

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

type product struct {
	ID    string `json:"id"`
	SKU   string `json:"sku"`
	Name  string `json:"name"`
	Price struct {
		Amount   int64  `json:"amount"`
		Currency string `json:"currency"`
	} `json:"price"`
	Available int64 `json:"available"`
	Reserved  int64 `json:"reserved"`
	Version   int64 `json:"version"`
}

func uniqueSKU(prefix string) string { return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()) }

// writer is a token with the scope product and stock writes need.
func writer(t *testing.T) string {
	t.Helper()
	return operatorToken(t, "inventory:write")
}

func createProduct(t *testing.T, sku string, stock int64, headers ...string) (product, response) {
	t.Helper()
	body := map[string]any{"sku": sku, "name": "Widget " + sku, "price": map[string]any{"amount": 1999, "currency": "EUR"}, "stock": stock}
	r := call(t, "POST", "/v1/products", body, append(bearer(writer(t)), headers...)...)
	var p product
	if r.Status == http.StatusCreated {
		r.json(t, &p)
	}
	return p, r
}

func TestProductsCreateGet(t *testing.T) {
	t.Parallel()
	sku := uniqueSKU("E2E")
	p, r := createProduct(t, sku, 5)
	expect(t, r, http.StatusCreated)
	if p.ID == "" || p.SKU != sku || p.Price.Amount != 1999 || p.Price.Currency != "EUR" || p.Available != 5 || p.Reserved != 0 || p.Version != 1 {
		t.Fatalf("created = %s", r.Body)
	}
	_, r = createProduct(t, sku, 1)
	expect(t, r, http.StatusConflict)

	r = call(t, "GET", "/v1/products/"+p.ID, nil)
	expect(t, r, http.StatusOK)
	var got product
	r.json(t, &got)
	if got != p {
		t.Fatalf("get = %+v, want %+v", got, p)
	}
	expect(t, call(t, "GET", "/v1/products/0190c3c4-0000-7000-8000-000000000000", nil), http.StatusNotFound)

	for name, body := range map[string]map[string]any{
		"float amount":     {"sku": uniqueSKU("F"), "name": "x", "price": map[string]any{"amount": 19.99, "currency": "EUR"}, "stock": 1},
		"unknown currency": {"sku": uniqueSKU("C"), "name": "x", "price": map[string]any{"amount": 1, "currency": "XXY"}, "stock": 1},
		"negative stock":   {"sku": uniqueSKU("N"), "name": "x", "price": map[string]any{"amount": 1, "currency": "EUR"}, "stock": -1},
		"bad sku":          {"sku": "has space", "name": "x", "price": map[string]any{"amount": 1, "currency": "EUR"}, "stock": 1},
	} {
		t.Run(name, func(t *testing.T) {
			expect(t, call(t, "POST", "/v1/products", body, bearer(writer(t))...), http.StatusBadRequest)
		})
	}
}

func TestProductsListPagination(t *testing.T) {
	t.Parallel()
	var created []string
	for i := range 5 {
		p, r := createProduct(t, uniqueSKU(fmt.Sprintf("PG%d", i)), 1)
		expect(t, r, http.StatusCreated)
		created = append(created, p.ID)
	}
	// Walk every page with limit 2; our five products appear once each, in creation order.
	seen := map[string]int{}
	var order []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("pagination does not end")
		}
		path := "/v1/products?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := call(t, "GET", path, nil)
		expect(t, r, http.StatusOK)
		var page struct {
			Items      []product `json:"items"`
			NextCursor string    `json:"nextCursor"`
		}
		r.json(t, &page)
		if len(page.Items) > 2 {
			t.Fatalf("page of %d items with limit 2", len(page.Items))
		}
		for _, p := range page.Items {
			seen[p.ID]++
			order = append(order, p.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	pos := -1
	for _, id := range created {
		if seen[id] != 1 {
			t.Fatalf("product %s listed %d times", id, seen[id])
		}
		for i, o := range order {
			if o == id {
				if i < pos {
					t.Fatalf("products not in creation order: %v", order)
				}
				pos = i
			}
		}
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "cursor=bm9wZQ", "cursor=%25%25"} {
		expect(t, call(t, "GET", "/v1/products?"+q, nil), http.StatusBadRequest)
	}
}

func TestStockAdjustments(t *testing.T) {
	t.Parallel()
	p, r := createProduct(t, uniqueSKU("STK"), 3)
	expect(t, r, http.StatusCreated)
	path := "/v1/products/" + p.ID + "/stock"
	auth := bearer(writer(t))
	with := func(h ...string) []string { return append(append([]string{}, auth...), h...) }

	expect(t, call(t, "POST", path, map[string]any{"delta": -1}, auth...), http.StatusBadRequest) // no Idempotency-Key

	r = call(t, "POST", path, map[string]any{"delta": -2}, with("Idempotency-Key", "take-2-"+p.ID)...)
	expect(t, r, http.StatusOK)
	var got product
	r.json(t, &got)
	if got.Available != 1 || got.Version != 2 {
		t.Fatalf("after -2: %s", r.Body)
	}

	// A retry with the same key replays, it does not take 2 more.
	r2 := call(t, "POST", path, map[string]any{"delta": -2}, with("Idempotency-Key", "take-2-"+p.ID)...)
	expect(t, r2, http.StatusOK)
	if r2.Header.Get("Idempotent-Replayed") != "true" || string(r2.Body) != string(r.Body) {
		t.Fatalf("replay: header %q body %s, want the first response", r2.Header.Get("Idempotent-Replayed"), r2.Body)
	}
	// The same key with another body is refused.
	expect(t, call(t, "POST", path, map[string]any{"delta": -1}, with("Idempotency-Key", "take-2-"+p.ID)...), http.StatusUnprocessableEntity)

	// Below zero is refused and changes nothing.
	expect(t, call(t, "POST", path, map[string]any{"delta": -2}, with("Idempotency-Key", "take-too-many-"+p.ID)...), http.StatusConflict)
	call(t, "GET", "/v1/products/"+p.ID, nil).json(t, &got)
	if got.Available != 1 {
		t.Fatalf("available = %d after a refused take, want 1", got.Available)
	}
	expect(t, call(t, "POST", path, map[string]any{"delta": 0}, with("Idempotency-Key", "zero-"+p.ID)...), http.StatusBadRequest)
	expect(t, call(t, "POST", "/v1/products/0190c3c4-0000-7000-8000-000000000000/stock", map[string]any{"delta": 1}, with("Idempotency-Key", "nope-"+p.ID)...), http.StatusNotFound)
}

func TestCreateProductIdempotentReplay(t *testing.T) {
	t.Parallel()
	sku := uniqueSKU("IDEM")
	key := "create-" + sku
	first, r1 := createProduct(t, sku, 2, "Idempotency-Key", key)
	expect(t, r1, http.StatusCreated)
	second, r2 := createProduct(t, sku, 2, "Idempotency-Key", key)
	expect(t, r2, http.StatusCreated) // the stored 201, not a 409 for the now-taken SKU
	if first != second || r2.Header.Get("Idempotent-Replayed") != "true" || r2.Header.Get("Location") != r1.Header.Get("Location") {
		t.Fatalf("replay differs: %s vs %s (replayed=%q)", r1.Body, r2.Body, r2.Header.Get("Idempotent-Replayed"))
	}
	_, r3 := createProduct(t, sku+"-other", 2, "Idempotency-Key", key)
	expect(t, r3, http.StatusUnprocessableEntity)
}
