package inventory

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"

	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/money"
	"github.com/shop-serverless/shop/shared/problem"
)

// List page sizes.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

var skuRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CreateRequest is the body of POST /v1/products.
type CreateRequest struct {
	SKU   string      `json:"sku" validate:"required"`
	Name  string      `json:"name" validate:"required,min=1,max=200"`
	Price money.Money `json:"price" validate:"required"`
	Stock int64       `json:"stock" validate:"gte=0,lte=1000000000"`
}

// Validate checks what tags cannot say.
func (c CreateRequest) Validate() error {
	if !skuRE.MatchString(c.SKU) {
		return fmt.Errorf("sku must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	return nil
}

// StockRequest is the body of POST /v1/products/{id}/stock.
type StockRequest struct {
	Delta int64 `json:"delta" validate:"required,gte=-1000000000,lte=1000000000"`
}

// Create handles POST /v1/products: 201, or 409 if the SKU exists.
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
		p, err := st.Create(r.Context(), Product{ID: id.String(), SKU: req.SKU, Name: req.Name, Price: req.Price, Available: req.Stock})
		if err != nil {
			return mapError(err)
		}
		w.Header().Set("Location", "/v1/products/"+p.ID)
		httpapi.WriteVersioned(w, http.StatusCreated, p.Version, p)
		return nil
	})
}

// Get handles GET /v1/products/{id}.
func Get(st *Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.PathID(r, "id", "product")
		if err != nil {
			return err
		}
		p, err := st.Get(r.Context(), id)
		if err != nil {
			return mapError(err)
		}
		httpapi.WriteVersioned(w, http.StatusOK, p.Version, p)
		return nil
	})
}

// Page is the body of GET /v1/products.
type Page struct {
	Items      []Product `json:"items"`
	NextCursor string    `json:"nextCursor,omitempty"`
}

// List handles GET /v1/products?limit=&cursor=.
func List(st *Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		limit := DefaultLimit
		if raw := q.Get("limit"); raw != "" {
			n, err := strconv.Atoi(raw)
			if err != nil || n < 1 || n > MaxLimit {
				return &httpapi.Error{Status: http.StatusBadRequest, Detail: fmt.Sprintf("limit must be an integer from 1 to %d", MaxLimit),
					Fields: []problem.FieldError{{Field: "limit", Message: fmt.Sprintf("must be 1..%d", MaxLimit)}}}
			}
			limit = n
		}
		items, next, err := st.List(r.Context(), int32(limit), q.Get("cursor"))
		if errors.Is(err, ErrBadCursor) {
			return &httpapi.Error{Status: http.StatusBadRequest, Detail: "cursor is not one this API returned",
				Fields: []problem.FieldError{{Field: "cursor", Message: "invalid"}}}
		}
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, Page{Items: items, NextCursor: next})
		return nil
	})
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
		if errors.Is(err, ErrInsufficientStock) && req.Delta > 0 {
			return &httpapi.Error{Status: http.StatusConflict, Detail: fmt.Sprintf("stock would exceed %d", MaxStock), Err: err}
		}
		if err != nil {
			return mapError(err)
		}
		httpapi.WriteVersioned(w, http.StatusOK, p.Version, p)
		return nil
	})
}

func mapError(err error) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return &httpapi.Error{Status: http.StatusNotFound, Detail: "product not found", Err: err}
	case errors.Is(err, ErrSKUTaken):
		return &httpapi.Error{Status: http.StatusConflict, Detail: "a product with this sku exists already", Err: err}
	case errors.Is(err, ErrInsufficientStock):
		return &httpapi.Error{Status: http.StatusConflict, Detail: "not enough stock: available stock cannot go below zero", Err: err}
	}
	return err
}
