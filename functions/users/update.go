package users

import (
	"net/http"

	"github.com/shop-serverless/shop/shared/auth"
	"github.com/shop-serverless/shop/shared/httpapi"
)

// Update handles PATCH /v1/users/{id}. The client must send the version it
// read in If-Match (428 without it, 412 when it is stale), so two editors
// cannot silently overwrite each other.
func Update(st *Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.PathID(r, "id", "user")
		if err != nil {
			return err
		}
		// Only the user changes their own profile.
		if err := auth.SelfOrScope(r.Context(), id, ""); err != nil {
			return err
		}
		version, err := httpapi.IfMatchVersion(r)
		if err != nil {
			return err
		}
		var p Patch
		if err := httpapi.Decode(r, &p); err != nil {
			return err
		}
		if p.Empty() {
			return httpapi.Errorf(http.StatusBadRequest, "the patch changes nothing: send name, phone or preferences")
		}
		u, err := st.Update(r.Context(), id, version, p)
		if err != nil {
			return errs.HTTP(err)
		}
		httpapi.WriteVersioned(w, http.StatusOK, u.Version, u)
		return nil
	})
}
