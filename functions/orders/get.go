package orders

import (
	"net/http"

	"github.com/shop-serverless/shop/shared/auth"
	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/tracing"
)

// Get handles GET /v1/orders/{id}: the order, with its status history. Its
// customer may read it, and a service granted orders:read; anyone else
// gets a 403, once the order is known to exist.
func Get(st *Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.PathID(r, "id", "order")
		if err != nil {
			return err
		}
		tracing.Annotate(r.Context(), tracing.AnnotationOrderID, id)
		o, err := st.Get(r.Context(), id)
		if err != nil {
			return errs.HTTP(err)
		}
		if err := auth.SelfOrScope(r.Context(), o.UserID, ScopeRead); err != nil {
			return err
		}
		httpapi.WriteCached(w, r, http.StatusOK, httpapi.VersionETag(o.Version), httpapi.CachePrivate, o)
		return nil
	})
}
