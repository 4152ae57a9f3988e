package users

import (
	"net/http"

	"github.com/shop-serverless/shop/shared/auth"
	"github.com/shop-serverless/shop/shared/httpapi"
)

// Get handles GET /v1/users/{id}.
func Get(st *Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.PathID(r, "id", "user")
		if err != nil {
			return err
		}
		// A user reads only their own profile; services (orders validating a
		// customer) need the users:read scope.
		if err := auth.SelfOrScope(r.Context(), id, ScopeRead); err != nil {
			return err
		}
		u, err := st.Get(r.Context(), id)
		if err != nil {
			return errs.HTTP(err)
		}
		httpapi.WriteCached(w, r, http.StatusOK, httpapi.VersionETag(u.Version), httpapi.CachePrivate, u)
		return nil
	})
}
