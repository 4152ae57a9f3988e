package inventory

import (
	"net/http"

	"github.com/shop-serverless/shop/shared/httpapi"
)

// Get handles GET /v1/products/{id}.
func Get(st *Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.PathID(r, "id", "product")
		if err != nil {
			return err
		}
		p, err := st.Get(r.Context(), id)
		if err != nil {
			return errs.HTTP(err)
		}
		httpapi.WriteVersioned(w, http.StatusOK, p.Version, p)
		return nil
	})
}
