package payments

import (
	"net/http"

	"github.com/shop-serverless/shop/shared/auth"
	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/money"
)

// ScopeRead lets a service read any order's payment.
const ScopeRead = "payments:read"

// View is the body of GET /v1/orders/{id}/payment.
type View struct {
	OrderID     string       `json:"orderId"`
	Status      string       `json:"status"`
	Amount      *money.Money `json:"amount"`
	ProviderRef string       `json:"providerRef"`
	Attempts    int64        `json:"attempts"`
}

// Get handles GET /v1/orders/{id}/payment: the order's owner (or a service
// with payments:read) reads its payment; 404 for an order without one, 403
// for someone else's.
func Get(st *Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if !validID(id) {
			return httpapi.Errorf(http.StatusNotFound, "payment not found")
		}
		p, err := st.Get(r.Context(), id)
		if err != nil {
			return errs.HTTP(err)
		}
		// A refund that found no payment records one without an owner:
		// only services may read that.
		if err := auth.SelfOrScope(r.Context(), p.UserID, ScopeRead); err != nil {
			return err
		}
		httpapi.WriteCached(w, r, http.StatusOK, httpapi.VersionETag(p.Version), httpapi.CachePrivate, View{OrderID: p.OrderID, Status: p.Status, Amount: p.Amount, ProviderRef: p.ProviderRef, Attempts: p.Attempts})
		return nil
	})
}
