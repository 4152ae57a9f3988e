package inventory

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/money"
	"github.com/shop-serverless/shop/shared/store"
)

// serve calls h as its function would: the path's {id}, a JSON body when
// body is set, and headers as name, value pairs.
func serve(t *testing.T, h http.Handler, method, target, id, body string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	if id != "" {
		r.SetPathValue("id", id)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestUpdateHandler(t *testing.T) {
	st := newTestStore(t)
	h := Update(st)
	p := newProduct(t, st, "UPD-1", 7)
	patch := func(id, ifMatch, body string) *httptest.ResponseRecorder {
		t.Helper()
		var headers []string
		if ifMatch != "" {
			headers = []string{"If-Match", ifMatch}
		}
		return serve(t, h, http.MethodPatch, "/v1/products/"+id, id, body, headers...)
	}
	refused := []struct {
		name, id, ifMatch, body string
		want                    int
	}{
		{"malformed id", "nope", `"1"`, `{"name":"x"}`, http.StatusNotFound},
		{"no If-Match", p.ID, "", `{"name":"x"}`, http.StatusPreconditionRequired},
		{"unreadable If-Match", p.ID, `"abc"`, `{"name":"x"}`, http.StatusBadRequest},
		{"unknown field", p.ID, `"1"`, `{"name":"x","stock":3}`, http.StatusBadRequest},
		{"sku is not patchable", p.ID, `"1"`, `{"sku":"OTHER"}`, http.StatusBadRequest},
		{"empty patch", p.ID, `"1"`, `{}`, http.StatusBadRequest},
		{"empty name", p.ID, `"1"`, `{"name":""}`, http.StatusBadRequest},
		{"name too long", p.ID, `"1"`, `{"name":"` + strings.Repeat("n", 201) + `"}`, http.StatusBadRequest},
		{"negative price", p.ID, `"1"`, `{"price":{"amount":-1,"currency":"EUR"}}`, http.StatusBadRequest},
		{"unknown currency", p.ID, `"1"`, `{"price":{"amount":100,"currency":"XXY"}}`, http.StatusBadRequest},
		{"price without currency", p.ID, `"1"`, `{"price":{"amount":100}}`, http.StatusBadRequest},
		{"threshold 0", p.ID, `"1"`, `{"lowStockThreshold":0}`, http.StatusBadRequest},
		{"threshold too high", p.ID, `"1"`, `{"lowStockThreshold":1000000001}`, http.StatusBadRequest},
		{"not JSON", p.ID, `"1"`, `{"name":`, http.StatusBadRequest},
		{"unknown product", uuid.NewString(), `"1"`, `{"name":"x"}`, http.StatusNotFound},
		{"stale version", p.ID, `"2"`, `{"name":"x"}`, http.StatusPreconditionFailed},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			rec := patch(c.id, c.ifMatch, c.body)
			if rec.Code != c.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.want, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q, want a problem body", ct)
			}
		})
	}
	if got, _ := st.Get(context.Background(), p.ID); got.Version != 1 || got.Name != p.Name {
		t.Fatalf("a refused patch changed the product: %+v", got)
	}

	rec := patch(p.ID, `"1"`, `{"name":"Renamed","price":{"amount":2500,"currency":"EUR"}}`)
	var got Product
	if err := jsonDecode(rec.Body.String(), &got); rec.Code != http.StatusOK || err != nil {
		t.Fatalf("patch: %d %s", rec.Code, rec.Body)
	}
	if rec.Header().Get("ETag") != `"2"` || got.Version != 2 || got.Name != "Renamed" || got.Price != (money.Money{Amount: 2500, Currency: "EUR"}) ||
		got.SKU != "UPD-1" || got.Available != 7 || got.LowStockThreshold != DefaultLowStockThreshold {
		t.Fatalf("patched: ETag %s, %+v", rec.Header().Get("ETag"), got)
	}
	if stored, err := st.Get(context.Background(), p.ID); err != nil || stored.Name != "Renamed" || stored.Price.Amount != 2500 || stored.Version != 2 {
		t.Fatalf("stored: %+v, %v", stored, err)
	}
	// The same If-Match again is a stale one: the first patch moved the version.
	if rec := patch(p.ID, `"1"`, `{"name":"Renamed"}`); rec.Code != http.StatusPreconditionFailed {
		t.Fatalf("second patch with If-Match 1: %d, want 412", rec.Code)
	}
	// A price may change currency, as create may set any valid one; the
	// threshold alone; a bare version number in If-Match.
	rec = patch(p.ID, `2`, `{"price":{"amount":300,"currency":"JPY"},"lowStockThreshold":9}`)
	if err := jsonDecode(rec.Body.String(), &got); rec.Code != http.StatusOK || err != nil || got.Price != (money.Money{Amount: 300, Currency: "JPY"}) ||
		got.LowStockThreshold != 9 || got.Name != "Renamed" || got.Version != 3 {
		t.Fatalf("currency and threshold: %d %s", rec.Code, rec.Body)
	}
	// A deleted product is not found.
	if err := st.Delete(context.Background(), p.ID, 3); err != nil {
		t.Fatal(err)
	}
	if rec := patch(p.ID, `"4"`, `{"name":"Ghost"}`); rec.Code != http.StatusNotFound {
		t.Fatalf("patch of a deleted product: %d, want 404: %s", rec.Code, rec.Body)
	}
}

func TestDeleteHandler(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	h := Delete(st)
	del := func(id, ifMatch string) *httptest.ResponseRecorder {
		t.Helper()
		var headers []string
		if ifMatch != "" {
			headers = []string{"If-Match", ifMatch}
		}
		return serve(t, h, http.MethodDelete, "/v1/products/"+id, id, "", headers...)
	}
	p := newProduct(t, st, "DEL-1", 4)
	held := newProduct(t, st, "DEL-2", 4)
	order := uuid.NewString()
	if err := st.Reserve(ctx, order, []Line{{ProductID: held.ID, Quantity: 1}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, id, ifMatch string
		want              int
	}{
		{"malformed id", "nope", `"1"`, http.StatusNotFound},
		{"no If-Match", p.ID, "", http.StatusPreconditionRequired},
		{"unreadable If-Match", p.ID, `W/"x"`, http.StatusBadRequest},
		{"unknown product", uuid.NewString(), `"1"`, http.StatusNotFound},
		{"stale version", p.ID, `"5"`, http.StatusPreconditionFailed},
		{"stock reserved", held.ID, `"2"`, http.StatusConflict},
	} {
		t.Run(c.name, func(t *testing.T) {
			if rec := del(c.id, c.ifMatch); rec.Code != c.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.want, rec.Body)
			}
		})
	}
	if got := stockOf(t, st, held.ID); got != (stock{3, 1, 0}) {
		t.Fatalf("the refused delete touched the stock: %+v", got)
	}

	if rec := del(p.ID, `"1"`); rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Fatalf("delete: %d %q", rec.Code, rec.Body)
	}
	// Again, with the same If-Match (a retry) or any other: done already.
	for _, again := range []string{`"1"`, `"9"`} {
		if rec := del(p.ID, again); rec.Code != http.StatusNoContent {
			t.Fatalf("delete again with If-Match %s: %d, want 204: %s", again, rec.Code, rec.Body)
		}
	}
	if _, err := st.Get(ctx, p.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a deleted product: %v, want ErrNotFound", err)
	}
	if rec := serve(t, Get(st), http.MethodGet, "/v1/products/"+p.ID, p.ID, ""); rec.Code != http.StatusNotFound {
		t.Fatalf("GET of a deleted product: %d, want 404", rec.Code)
	}
	// Once its order lets the stock go, the other one can be deleted.
	if err := st.Release(ctx, order); err != nil {
		t.Fatal(err)
	}
	v := stockVersion(t, st, held.ID)
	if rec := del(held.ID, httpapi.VersionETag(v)); rec.Code != http.StatusNoContent {
		t.Fatalf("delete after the release: %d %s", rec.Code, rec.Body)
	}
}

func stockVersion(t *testing.T, st *Store, id string) int64 {
	t.Helper()
	p, err := st.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p.Version
}

// A deleted product leaves the catalog: the list, ?ids=, ?sku= and the
// reserve step, which reports it as it reports an unknown product (the saga
// then cancels the order).
func TestDeletedProductIsHidden(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	kept := newProduct(t, st, "HID-1", 3)
	gone := newProduct(t, st, "HID-2", 3)
	if err := st.Delete(ctx, gone.ID, 1); err != nil {
		t.Fatal(err)
	}
	items, _, err := st.List(ctx, 10, "")
	if err != nil || len(items) != 1 || items[0].ID != kept.ID {
		t.Fatalf("List = %+v, %v; want only %s", items, err, kept.ID)
	}
	if got, err := st.GetMany(ctx, []string{gone.ID, kept.ID}); err != nil || len(got) != 1 || got[0].ID != kept.ID {
		t.Fatalf("GetMany = %+v, %v", got, err)
	}
	if _, err := st.AdjustStock(ctx, gone.ID, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("AdjustStock of the deleted one: %v, want ErrNotFound", err)
	}
	if _, err := st.GetBySKU(ctx, "HID-2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetBySKU of the deleted one: %v, want ErrNotFound", err)
	}
	if got, err := st.GetBySKU(ctx, "HID-1"); err != nil || got.ID != kept.ID {
		t.Fatalf("GetBySKU = %+v, %v", got, err)
	}
	err = st.Reserve(ctx, uuid.NewString(), []Line{{ProductID: kept.ID, Quantity: 1}, {ProductID: gone.ID, Quantity: 1}})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Reserve with a deleted product: %v, want ErrNotFound (as for an unknown one)", err)
	}
	if got := stockOf(t, st, kept.ID); got != (stock{3, 0, 0}) {
		t.Fatalf("the refused reservation took stock: %+v", got)
	}
	// Its SKU stays taken: it names the product in the orders that have it.
	id, _ := uuid.NewV7()
	if _, err := st.Create(ctx, Product{ID: id.String(), SKU: "HID-2", Name: "again", Price: gone.Price}); !errors.Is(err, ErrSKUTaken) {
		t.Fatalf("create with a deleted product's SKU: %v, want ErrSKUTaken", err)
	}
}

// The reserve step's stock move is conditioned on the product not being
// deleted, so a delete landing between its read and its transaction fails
// the transaction rather than reserving a deleted product.
func TestReserveMoveRefusesDeletedProduct(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	p := newProduct(t, st, "RACE-1", 3)
	op, err := st.moveStock(Line{ProductID: p.ID, Quantity: 1}, st.now(), moveReserve, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, p.ID, 1); err != nil {
		t.Fatal(err)
	}
	err = st.transact(ctx, []types.TransactWriteItem{op})
	if _, failed := store.TxConditionFailed(err); !failed {
		t.Fatalf("reserving stock of a deleted product: %v, want a failed condition", err)
	}
}

func TestListSKULookup(t *testing.T) {
	st := newTestStore(t)
	h := List(st)
	p := newProduct(t, st, "LOOK-1", 2)
	get := func(query string, headers ...string) *httptest.ResponseRecorder {
		t.Helper()
		return serve(t, h, http.MethodGet, "/v1/products?"+query, "", "", headers...)
	}
	rec := get("sku=LOOK-1")
	var page Page
	if err := jsonDecode(rec.Body.String(), &page); rec.Code != http.StatusOK || err != nil || len(page.Items) != 1 || page.Items[0].ID != p.ID || page.NextCursor != "" {
		t.Fatalf("sku=LOOK-1: %d %s", rec.Code, rec.Body)
	}
	etag := rec.Header().Get("ETag")
	if etag == "" || strings.HasPrefix(etag, "W/") || rec.Header().Get("Cache-Control") != httpapi.CachePublicCatalog {
		t.Fatalf("sku=LOOK-1: ETag %q, Cache-Control %q", etag, rec.Header().Get("Cache-Control"))
	}
	if rec := get("sku=LOOK-1", "If-None-Match", etag); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 || rec.Header().Get("ETag") != etag {
		t.Fatalf("sku=LOOK-1 with If-None-Match: %d %q, ETag %q", rec.Code, rec.Body, rec.Header().Get("ETag"))
	}
	for _, q := range []string{"sku=NOPE-1", "sku=look-1"} { // exact: SKUs are case-sensitive
		if rec := get(q); rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"items":[]}` {
			t.Fatalf("%s: %d %s, want an empty page", q, rec.Code, rec.Body)
		}
	}
	for _, q := range []string{"sku=LOOK-1&cursor=abc", "sku=LOOK-1&cursor=", "sku=LOOK-1&limit=1", "sku=LOOK-1&ids=" + p.ID,
		"sku=", "sku=-bad", "sku=" + strings.Repeat("A", 65), "sku=LOOK-1&sku=LOOK-1", "sku=a%23b"} {
		if rec := get(q); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400: %s", q, rec.Code, rec.Body)
		}
	}
}

func TestCatalogReadsAreCacheable(t *testing.T) {
	st := newTestStore(t)
	p := newProduct(t, st, "CACHE-1", 2)
	getOne := func(headers ...string) *httptest.ResponseRecorder {
		return serve(t, Get(st), http.MethodGet, "/v1/products/"+p.ID, p.ID, "", headers...)
	}
	rec := getOne()
	if rec.Code != http.StatusOK || rec.Header().Get("ETag") != `"1"` || rec.Header().Get("Cache-Control") != httpapi.CachePublicCatalog {
		t.Fatalf("GET: %d, ETag %q, Cache-Control %q", rec.Code, rec.Header().Get("ETag"), rec.Header().Get("Cache-Control"))
	}
	for _, inm := range []string{`"1"`, `W/"1"`, `"0", "1"`, `*`} {
		if rec := getOne("If-None-Match", inm); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 || rec.Header().Get("ETag") != `"1"` {
			t.Errorf("If-None-Match %s: %d %q", inm, rec.Code, rec.Body)
		}
	}
	if rec := getOne("If-None-Match", `"2"`); rec.Code != http.StatusOK || rec.Body.Len() == 0 {
		t.Errorf("stale If-None-Match: %d", rec.Code)
	}

	for _, q := range []string{"limit=5", "ids=" + p.ID} {
		rec := serve(t, List(st), http.MethodGet, "/v1/products?"+q, "", "")
		etag := rec.Header().Get("ETag")
		if rec.Code != http.StatusOK || etag != httpapi.BodyETag([]byte(strings.TrimSpace(rec.Body.String()))) || rec.Header().Get("Cache-Control") != httpapi.CachePublicCatalog {
			t.Fatalf("%s: %d, ETag %q, Cache-Control %q", q, rec.Code, etag, rec.Header().Get("Cache-Control"))
		}
		if rec := serve(t, List(st), http.MethodGet, "/v1/products?"+q, "", "", "If-None-Match", etag); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
			t.Fatalf("%s with If-None-Match: %d", q, rec.Code)
		}
	}
}
