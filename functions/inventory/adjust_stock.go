package inventory

import (
	"net/http"

	"github.com/shop-serverless/shop/shared/httpapi"
)

// StockRequest is the body of POST /v1/products/{id}/stock.
type StockRequest struct {
	Delta int64 `json:"delta" validate:"required,gte=-1000000000,lte=1000000000"`
}

// AdjustStock handles POST /v1/products/{id}/stock: adds delta to the
// available stock (negative to take away); 409 if it would go below zero.
// A delta is not idempotent by nature, so the route requires an
// Idempotency-Key (wired in its main).
func AdjustStock(st *Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.PathID(r, "id", "product")
		if err != nil {
			return err
		}
		var req StockRequest
		if err := httpapi.Decode(r, &req); err != nil {
			return err
		}
		p, err := st.AdjustStock(r.Context(), id, req.Delta)
		if err != nil {
			return errs.HTTP(err)
		}
		httpapi.WriteVersioned(w, http.StatusOK, p.Version, p)
		return nil
	})
}
