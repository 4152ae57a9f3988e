package inventory

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/problem"
)

// List page sizes.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// Page is the body of GET /v1/products.
type Page struct {
	Items      []Product `json:"items"`
	NextCursor string    `json:"nextCursor,omitempty"`
}

// List handles GET /v1/products?limit=&cursor=.
func List(st *Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		limit := DefaultLimit
		if raw := q.Get("limit"); raw != "" {
			n, err := strconv.Atoi(raw)
			if err != nil || n < 1 || n > MaxLimit {
				return &httpapi.Error{Status: http.StatusBadRequest, Detail: fmt.Sprintf("limit must be an integer from 1 to %d", MaxLimit),
					Fields: []problem.FieldError{{Field: "limit", Message: fmt.Sprintf("must be 1..%d", MaxLimit)}}}
			}
			limit = n
		}
		items, next, err := st.List(r.Context(), int32(limit), q.Get("cursor"))
		if err != nil {
			return errs.HTTP(err)
		}
		httpapi.WriteJSON(w, http.StatusOK, Page{Items: items, NextCursor: next})
		return nil
	})
}
