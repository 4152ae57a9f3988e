package orders

import (
	"net/http"

	"github.com/shop-serverless/shop/shared/auth"
	"github.com/shop-serverless/shop/shared/httpapi"
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
		limit, err := httpapi.Limit(r, DefaultLimit, MaxLimit)
		if err != nil {
			return err
		}
		items, next, err := st.ListByUser(r.Context(), userID, limit, q.Get("cursor"))
		if err != nil {
			return errs.HTTP(err)
		}
		httpapi.WriteCached(w, r, http.StatusOK, "", httpapi.CachePrivate, Page{Items: items, NextCursor: next})
		return nil
	})
}
