package orders

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/shop-serverless/shop/shared/auth"
	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/problem"
)

// List page sizes.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// Page is the body of GET /v1/users/{id}/orders.
type Page struct {
	Items      []Order `json:"items"`
	NextCursor string  `json:"nextCursor,omitempty"`
}

// List handles GET /v1/users/{id}/orders?limit=&cursor=: the user's orders,
// newest first, for the user themself (or a service granted orders:read).
// The list is read from an index, so an order placed a moment ago may show
// a moment later.
func List(st *Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		userID, err := httpapi.PathID(r, "id", "user")
		if err != nil {
			return err
		}
		if err := auth.SelfOrScope(r.Context(), userID, ScopeRead); err != nil {
			return err
		}
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
		items, next, err := st.ListByUser(r.Context(), userID, int32(limit), q.Get("cursor"))
		if err != nil {
			return errs.HTTP(err)
		}
		httpapi.WriteJSON(w, http.StatusOK, Page{Items: items, NextCursor: next})
		return nil
	})
}
