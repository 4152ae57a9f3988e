package notifications

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

// Page is the body of GET /v1/users/{id}/notifications.
type Page struct {
	Items      []Notification `json:"items"`
	NextCursor string         `json:"nextCursor,omitempty"`
}

// List handles GET /v1/users/{id}/notifications?limit=&cursor=: the user's
// notifications, newest first, for the user themself only (no scope lets a
// service read them: nothing needs to).
func List(st *Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		userID, err := httpapi.PathID(r, "id", "user")
		if err != nil {
			return err
		}
		if err := auth.SelfOrScope(r.Context(), userID, ""); err != nil {
			return err
		}
		limit, err := httpapi.Limit(r, DefaultLimit, MaxLimit)
		if err != nil {
			return err
		}
		items, next, err := st.List(r.Context(), userID, limit, r.URL.Query().Get("cursor"))
		if err != nil {
			return errs.HTTP(err)
		}
		httpapi.WriteCached(w, r, http.StatusOK, "", httpapi.CachePrivate, Page{Items: items, NextCursor: next})
		return nil
	})
}
