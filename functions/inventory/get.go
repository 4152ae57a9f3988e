package inventory

import (
	"net/http"

	"github.com/shop-serverless/shop/shared/httpapi"
)

// Get handles GET /v1/products/{id}: the product with its version as a
// strong ETag, cacheable by anyone for a few seconds
// (httpapi.CachePublicCatalog); 304 when If-None-Match names the version.
// A deleted product is 404 (see Delete).
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
		httpapi.WriteCached(w, r, http.StatusOK, httpapi.VersionETag(p.Version), httpapi.CachePublicCatalog, p)
		return nil
	})
}
