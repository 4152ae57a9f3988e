package inventory

import (
	"net/http"

	"github.com/shop-serverless/shop/shared/httpapi"
)

// Delete handles DELETE /v1/products/{id}: a soft delete (Store.Delete),
// 204. If-Match is required, as for PATCH (428 without, 412 stale): a
// delete decided on a stale read of the product is as much a lost update.
// 409 while stock of the product is reserved for orders in flight.
//
// Deleting a deleted product is 204 again, not 404: a client whose first
// DELETE's answer was lost retries it and must hear that it is done. A GET
// of a deleted product is 404, not 410: the catalog answers a deleted
// product exactly as one that never was (the list, ?sku=, ?ids= and the
// reserve step do too), and 410 would promise a permanence the API does
// not track for unknown ids.
func Delete(st *Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.PathID(r, "id", "product")
		if err != nil {
			return err
		}
		version, err := httpapi.IfMatchVersion(r)
		if err != nil {
			return err
		}
		if err := st.Delete(r.Context(), id, version); err != nil {
			return errs.HTTP(err)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
