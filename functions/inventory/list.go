package inventory

import (
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

// List handles GET /v1/products?limit=&cursor=, and the catalog batch
// read GET /v1/products?ids=<id>,<id>,... (see batchRead).
func List(st *Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		if q.Has("ids") {
			return batchRead(w, r, st)
		}
		limit, err := httpapi.Limit(r, DefaultLimit, MaxLimit)
		if err != nil {
			return err
		}
		items, next, err := st.List(r.Context(), limit, q.Get("cursor"))
		if err != nil {
			return errs.HTTP(err)
		}
		httpapi.WriteJSON(w, http.StatusOK, Page{Items: items, NextCursor: next})
		return nil
	})
}

// batchRead answers GET /v1/products?ids=: up to MaxBatchIDs distinct
// product ids, comma-separated, read in one BatchGetItem. The page holds the
// products found, in the order asked; an unknown id is simply absent. ids
// is not a filter of the paged list, so cursor or limit beside it is a 400.
func batchRead(w http.ResponseWriter, r *http.Request, st *Store) error {
	q := r.URL.Query()
	if q.Has("cursor") || q.Has("limit") {
		return &httpapi.Error{Status: http.StatusBadRequest, Detail: "ids cannot be combined with cursor or limit",
			Fields: []problem.FieldError{{Field: "ids", Message: "not with cursor or limit"}}}
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
	httpapi.WriteJSON(w, http.StatusOK, Page{Items: items})
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
