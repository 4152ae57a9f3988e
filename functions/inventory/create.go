package inventory

import (
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/money"
)

// CreateRequest is the body of POST /v1/products.
type CreateRequest struct {
	SKU   string      `json:"sku" validate:"required"`
	Name  string      `json:"name" validate:"required,min=1,max=200"`
	Price money.Money `json:"price" validate:"required"`
	Stock int64       `json:"stock" validate:"gte=0,lte=1000000000"`
	// LowStockThreshold is optional: DefaultLowStockThreshold without it.
	LowStockThreshold *int64 `json:"lowStockThreshold" validate:"omitempty,gte=1,lte=1000000000"`
}

// Validate checks what tags cannot say.
func (c CreateRequest) Validate() error {
	if !validSKU(c.SKU) {
		return fmt.Errorf("sku must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	return nil
}

// Create handles POST /v1/products: 201, or 409 if the SKU exists. The
// low-stock threshold is DefaultLowStockThreshold unless the request sets
// one.
func Create(st *Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		var req CreateRequest
		if err := httpapi.Decode(r, &req); err != nil {
			return err
		}
		id, err := uuid.NewV7() // time-ordered, so the catalog lists in creation order
		if err != nil {
			return err
		}
		threshold := int64(DefaultLowStockThreshold)
		if req.LowStockThreshold != nil {
			threshold = *req.LowStockThreshold
		}
		p, err := st.Create(r.Context(), Product{ID: id.String(), SKU: req.SKU, Name: req.Name, Price: req.Price,
			Available: req.Stock, LowStockThreshold: threshold})
		if err != nil {
			return errs.HTTP(err)
		}
		w.Header().Set("Location", "/v1/products/"+p.ID)
		httpapi.WriteVersioned(w, http.StatusCreated, p.Version, p)
		return nil
	})
}
