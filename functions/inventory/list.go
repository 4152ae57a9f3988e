package inventory

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/problem"
)

// List page sizes, and the most products one ids= read may name.
const (
	DefaultLimit = 20
	MaxLimit     = 100
	MaxBatchIDs  = 50
)

// Page is the body of GET /v1/products.
type Page struct {
	Items      []Product `json:"items"`
	NextCursor string    `json:"nextCursor,omitempty"`
}

// List handles GET /v1/products?limit=&cursor=, the catalog batch read
// GET /v1/products?ids=<id>,<id>,... (see batchRead) and the exact lookup
// GET /v1/products?sku=<sku> (see skuLookup). Deleted products are in none.
func List(st *Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		if q.Has("ids") {
			return batchRead(w, r, st)
		}
		if q.Has("sku") {
			return skuLookup(w, r, st)
		}
		limit, err := httpapi.Limit(r, DefaultLimit, MaxLimit)
		if err != nil {
			return err
		}
		items, next, err := st.List(r.Context(), limit, q.Get("cursor"))
		if err != nil {
			return errs.HTTP(err)
		}
		writePage(w, r, Page{Items: items, NextCursor: next})
		return nil
	})
}

// writePage answers a page of the catalog: its ETag is a hash of the body
// (a page has no version of its own), cacheable by anyone for a few
// seconds (httpapi.CachePublicCatalog); 304 when If-None-Match names it.
func writePage(w http.ResponseWriter, r *http.Request, page Page) {
	httpapi.WriteCached(w, r, http.StatusOK, "", httpapi.CachePublicCatalog, page)
}

// skuLookup answers GET /v1/products?sku=: the list shape with the one
// product that owns the SKU, or none (also for a deleted product). Like
// ids, sku is not a filter of the paged list: cursor, limit or ids beside
// it is a 400.
func skuLookup(w http.ResponseWriter, r *http.Request, st *Store) error {
	q := r.URL.Query()
	if q.Has("cursor") || q.Has("limit") || q.Has("ids") {
		return &httpapi.Error{Status: http.StatusBadRequest, Detail: "sku cannot be combined with cursor, limit or ids",
			Fields: []problem.FieldError{{Field: "sku", Message: "not with cursor, limit or ids"}}}
	}
	if len(q["sku"]) != 1 || !validSKU(q.Get("sku")) {
		const msg = "sku must be given once: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
		return &httpapi.Error{Status: http.StatusBadRequest, Detail: msg,
			Fields: []problem.FieldError{{Field: "sku", Message: msg}}}
	}
	items := []Product{}
	p, err := st.GetBySKU(r.Context(), q.Get("sku"))
	switch {
	case err == nil:
		items = append(items, p)
	case !errors.Is(err, ErrNotFound):
		return errs.HTTP(err)
	}
	writePage(w, r, Page{Items: items})
	return nil
}

// batchRead answers GET /v1/products?ids=: up to MaxBatchIDs distinct
// product ids, comma-separated, read in one BatchGetItem. The page holds the
// products found, in the order asked; an unknown id is simply absent. ids
// is not a filter of the paged list, so cursor, limit or sku beside it is a 400.
func batchRead(w http.ResponseWriter, r *http.Request, st *Store) error {
	q := r.URL.Query()
	if q.Has("cursor") || q.Has("limit") || q.Has("sku") {
		return &httpapi.Error{Status: http.StatusBadRequest, Detail: "ids cannot be combined with cursor, limit or sku",
			Fields: []problem.FieldError{{Field: "ids", Message: "not with cursor, limit or sku"}}}
	}
	ids, err := parseIDs(q["ids"])
	if err != nil {
		return &httpapi.Error{Status: http.StatusBadRequest, Detail: err.Error(),
			Fields: []problem.FieldError{{Field: "ids", Message: err.Error()}}}
	}
	items, err := st.GetMany(r.Context(), ids)
	if err != nil {
		return errs.HTTP(err)
	}
	writePage(w, r, Page{Items: items})
	return nil
}

// parseIDs reads the ids parameter (given once): 1 to MaxBatchIDs distinct
// product ids.
func parseIDs(values []string) ([]string, error) {
	if len(values) != 1 || values[0] == "" {
		return nil, fmt.Errorf("ids must be given once, as 1 to %d comma-separated product ids", MaxBatchIDs)
	}
	ids := strings.Split(values[0], ",")
	if len(ids) > MaxBatchIDs {
		return nil, fmt.Errorf("ids may name at most %d products, not %d", MaxBatchIDs, len(ids))
	}
	seen := make(map[string]bool, len(ids))
	for i, id := range ids {
		if !httpapi.IsID(id) {
			return nil, fmt.Errorf("ids[%d] is not a product id", i)
		}
		if seen[id] {
			return nil, fmt.Errorf("ids[%d] names a product twice", i)
		}
		seen[id] = true
	}
	return ids, nil
}
