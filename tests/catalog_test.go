package tests

import (
	"net/http"
	"testing"
)

// The rest of the catalog API (issue 13): PATCH and DELETE of a product,
// the ?sku= lookup, and HTTP caching of catalog reads through API Gateway.

type productPage struct {
	Items      []product `json:"items"`
	NextCursor string    `json:"nextCursor"`
}

func pageOf(t *testing.T, r response) productPage {
	t.Helper()
	expect(t, r, http.StatusOK)
	var p productPage
	r.json(t, &p)
	return p
}

func TestProductsPatch(t *testing.T) {
	t.Parallel()
	p, r := createProduct(t, uniqueSKU("PATCH"), 4)
	expect(t, r, http.StatusCreated)
	path := "/v1/products/" + p.ID
	auth := bearer(writer(t))
	with := func(h ...string) []string { return append(append([]string{}, auth...), h...) }
	rename := map[string]any{"name": "Renamed", "price": map[string]any{"amount": 2500, "currency": "EUR"}}

	expect(t, call(t, "PATCH", path, rename, auth...), http.StatusPreconditionRequired)
	expect(t, call(t, "PATCH", path, rename, with("If-Match", `"2"`)...), http.StatusPreconditionFailed)
	expect(t, call(t, "PATCH", path, rename, bearer(operatorToken(t, "inventory:read"))...), http.StatusForbidden)

	r = call(t, "PATCH", path, rename, with("If-Match", `"1"`)...)
	expect(t, r, http.StatusOK)
	var got product
	r.json(t, &got)
	if r.Header.Get("ETag") != `"2"` || got.Version != 2 || got.Name != "Renamed" || got.Price.Amount != 2500 || got.SKU != p.SKU || got.Available != 4 {
		t.Fatalf("patched: ETag %s, %s", r.Header.Get("ETag"), r.Body)
	}
	// The same If-Match again, without an Idempotency-Key: stale.
	expect(t, call(t, "PATCH", path, rename, with("If-Match", `"1"`)...), http.StatusPreconditionFailed)

	// With an Idempotency-Key, a retry replays the first answer instead.
	threshold := map[string]any{"lowStockThreshold": 2}
	key := "patch-" + p.ID
	r1 := call(t, "PATCH", path, threshold, with("If-Match", `"2"`, "Idempotency-Key", key)...)
	expect(t, r1, http.StatusOK)
	r2 := call(t, "PATCH", path, threshold, with("If-Match", `"2"`, "Idempotency-Key", key)...)
	expect(t, r2, http.StatusOK)
	if r2.Header.Get("Idempotent-Replayed") != "true" || string(r2.Body) != string(r1.Body) || r2.Header.Get("ETag") != `"3"` {
		t.Fatalf("replay: header %q, ETag %s, body %s; first %s", r2.Header.Get("Idempotent-Replayed"), r2.Header.Get("ETag"), r2.Body, r1.Body)
	}
	r = call(t, "GET", path, nil)
	expect(t, r, http.StatusOK)
	if r.Header.Get("ETag") != `"3"` {
		t.Fatalf("after the patch and its replay: ETag %s, want \"3\" (the replay applied nothing)", r.Header.Get("ETag"))
	}
	expect(t, call(t, "PATCH", "/v1/products/0190c3c4-0000-7000-8000-000000000000", rename, with("If-Match", `"1"`)...), http.StatusNotFound)
}

func TestProductsDelete(t *testing.T) {
	t.Parallel()
	p, r := createProduct(t, uniqueSKU("DEL"), 4)
	expect(t, r, http.StatusCreated)
	path := "/v1/products/" + p.ID
	auth := bearer(writer(t))
	with := func(h ...string) []string { return append(append([]string{}, auth...), h...) }

	expect(t, call(t, "DELETE", path, nil, auth...), http.StatusPreconditionRequired)
	expect(t, call(t, "DELETE", path, nil, with("If-Match", `"7"`)...), http.StatusPreconditionFailed)
	expect(t, call(t, "DELETE", path, nil, append(bearer(newShopper(t).Token), "If-Match", `"1"`)...), http.StatusForbidden)
	for range 2 { // the second is a retry: done already, 204 again
		r = call(t, "DELETE", path, nil, with("If-Match", `"1"`)...)
		expect(t, r, http.StatusNoContent)
		if len(r.Body) != 0 {
			t.Fatalf("204 with a body: %q", r.Body)
		}
	}
	expect(t, call(t, "GET", path, nil), http.StatusNotFound)
	if page := pageOf(t, call(t, "GET", "/v1/products?sku="+p.SKU, nil)); len(page.Items) != 0 {
		t.Fatalf("?sku= finds the deleted product: %+v", page)
	}
	if page := pageOf(t, call(t, "GET", "/v1/products?ids="+p.ID, nil)); len(page.Items) != 0 {
		t.Fatalf("?ids= finds the deleted product: %+v", page)
	}
	expect(t, call(t, "PATCH", path, map[string]any{"name": "Ghost"}, with("If-Match", `"2"`)...), http.StatusNotFound)
	expect(t, call(t, "POST", path+"/stock", map[string]any{"delta": 1}, with("Idempotency-Key", "deleted-stock-"+p.ID)...), http.StatusNotFound)
	// An order for it is refused as for an unknown product.
	s := newShopper(t)
	expect(t, call(t, "POST", "/v1/orders", orderBody("tok_visa", line(p.ID, 1)),
		append(bearer(s.Token), "Idempotency-Key", "deleted-"+p.ID)...), http.StatusUnprocessableEntity)
	expect(t, call(t, "DELETE", "/v1/products/0190c3c4-0000-7000-8000-000000000000", nil, with("If-Match", `"1"`)...), http.StatusNotFound)
}

func TestProductsSKULookup(t *testing.T) {
	t.Parallel()
	p, r := createProduct(t, uniqueSKU("LOOKUP"), 1)
	expect(t, r, http.StatusCreated)
	page := pageOf(t, call(t, "GET", "/v1/products?sku="+p.SKU, nil))
	if len(page.Items) != 1 || page.Items[0] != p || page.NextCursor != "" {
		t.Fatalf("?sku=%s: %+v, want exactly %+v", p.SKU, page, p)
	}
	if page := pageOf(t, call(t, "GET", "/v1/products?sku="+uniqueSKU("NONE"), nil)); len(page.Items) != 0 || page.Items == nil {
		t.Fatalf("unknown sku: %+v, want an empty list", page)
	}
	for _, q := range []string{"sku=" + p.SKU + "&cursor=abc", "sku=" + p.SKU + "&limit=2", "sku=has%20space", "sku="} {
		expect(t, call(t, "GET", "/v1/products?"+q, nil), http.StatusBadRequest)
	}
}

// A conditional GET passes through API Gateway: 304, no body, the same
// ETag; once the product changes, the old ETag gets the new product.
func TestProductsConditionalGet(t *testing.T) {
	t.Parallel()
	p, r := createProduct(t, uniqueSKU("ETAG"), 2)
	expect(t, r, http.StatusCreated)
	path := "/v1/products/" + p.ID
	r = call(t, "GET", path, nil)
	expect(t, r, http.StatusOK)
	etag := r.Header.Get("ETag")
	if etag != `"1"` || r.Header.Get("Cache-Control") != "public, max-age=5" {
		t.Fatalf("GET: ETag %q, Cache-Control %q", etag, r.Header.Get("Cache-Control"))
	}
	for _, inm := range []string{etag, "W/" + etag, `"0", ` + etag} {
		r = call(t, "GET", path, nil, "If-None-Match", inm)
		if r.Status != http.StatusNotModified || len(r.Body) != 0 || r.Header.Get("ETag") != etag {
			t.Fatalf("If-None-Match %s: %d, body %q, ETag %q; want 304, no body, %s", inm, r.Status, r.Body, r.Header.Get("ETag"), etag)
		}
	}
	expect(t, call(t, "PATCH", path, map[string]any{"name": "Changed"}, append(bearer(writer(t)), "If-Match", etag)...), http.StatusOK)
	r = call(t, "GET", path, nil, "If-None-Match", etag)
	expect(t, r, http.StatusOK)
	var got product
	r.json(t, &got)
	if r.Header.Get("ETag") != `"2"` || got.Name != "Changed" {
		t.Fatalf("after the patch: ETag %q, %s", r.Header.Get("ETag"), r.Body)
	}

	// A list page: its ETag hashes its body.
	list := "/v1/products?sku=" + p.SKU
	r = call(t, "GET", list, nil)
	expect(t, r, http.StatusOK)
	if r.Header.Get("ETag") == "" || r.Header.Get("Cache-Control") != "public, max-age=5" {
		t.Fatalf("list: ETag %q, Cache-Control %q", r.Header.Get("ETag"), r.Header.Get("Cache-Control"))
	}
	r2 := call(t, "GET", list, nil, "If-None-Match", r.Header.Get("ETag"))
	if r2.Status != http.StatusNotModified || len(r2.Body) != 0 || r2.Header.Get("ETag") != r.Header.Get("ETag") {
		t.Fatalf("list with If-None-Match: %d %q", r2.Status, r2.Body)
	}
}

// Stock held for an order in flight blocks the delete (409); once the order
// lets it go, the delete goes through, and the reserve step then answers
// the product as unknown (ProductNotFound, which the saga's Catch turns into
// a cancellation, OUT_OF_STOCK), every time.
func TestProductsDeleteAndReservations(t *testing.T) {
	t.Parallel()
	p := newProduct(t, 5)
	path := "/v1/products/" + p.ID
	auth := bearer(writer(t))
	held := stepOrderID(t)
	twice(t, "inventory-reserve", map[string]any{"orderId": held, "items": []any{line(p.ID, 2)}})
	r := call(t, "GET", path, nil)
	expect(t, r, http.StatusOK)
	etag := r.Header.Get("ETag")
	expect(t, call(t, "DELETE", path, nil, append(auth, "If-Match", etag)...), http.StatusConflict)
	wantStock(t, p.ID, stock{Available: 3, Reserved: 2})

	twice(t, "inventory-release", map[string]any{"orderId": held})
	r = call(t, "GET", path, nil)
	expect(t, r, http.StatusOK)
	expect(t, call(t, "DELETE", path, nil, append(auth, "If-Match", r.Header.Get("ETag"))...), http.StatusNoContent)

	late := map[string]any{"orderId": stepOrderID(t), "items": []any{line(p.ID, 1)}}
	for range 2 {
		if _, errType := invokeStep(t, "inventory-reserve", late); errType != "ProductNotFound" {
			t.Fatalf("reserve of a deleted product: error %q, want ProductNotFound", errType)
		}
	}
}
