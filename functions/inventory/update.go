package inventory

import (
	"net/http"

	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/money"
)

// UpdateRequest is the body of PATCH /v1/products/{id}: the fields to
// change, each optional (merge-patch style; absent means unchanged). The
// SKU and the stock are not here: the SKU identifies the product in
// orders, and stock moves only by POST /v1/products/{id}/stock.
type UpdateRequest struct {
	Name *string `json:"name" validate:"omitempty,min=1,max=200"`
	// Price may change currency, as create may set any valid one (money's
	// Validate): orders keep the price they were placed at.
	Price             *money.Money `json:"price"`
	LowStockThreshold *int64       `json:"lowStockThreshold" validate:"omitempty,gte=1,lte=1000000000"`
}

// Update handles PATCH /v1/products/{id}: 200 with the product and its new
// ETag. The client must send the version it read in If-Match (428 without
// it, 412 when it is stale), as for a user's profile (users.Update), so two
// editors cannot silently overwrite each other; 404 for an unknown or
// deleted product. A retry with the same Idempotency-Key replays the first
// answer (the function wraps this handler in shared/idempotency); without
// one, a second PATCH with the same If-Match is a 412: the first moved the
// version.
func Update(st *Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.PathID(r, "id", "product")
		if err != nil {
			return err
		}
		version, err := httpapi.IfMatchVersion(r)
		if err != nil {
			return err
		}
		var req UpdateRequest
		if err := httpapi.Decode(r, &req); err != nil {
			return err
		}
		if req.Name == nil && req.Price == nil && req.LowStockThreshold == nil {
			return httpapi.Errorf(http.StatusBadRequest, "the patch changes nothing: send name, price or lowStockThreshold")
		}
		p, err := st.Update(r.Context(), id, version, ProductPatch(req))
		if err != nil {
			return errs.HTTP(err)
		}
		httpapi.WriteVersioned(w, http.StatusOK, p.Version, p)
		return nil
	})
}
