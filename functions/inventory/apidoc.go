package inventory

import (
	"net/http"

	"github.com/shop-serverless/shop/shared/apidoc"
	"github.com/shop-serverless/shop/shared/httpapi"
)

// Operations documents the service's HTTP functions for the OpenAPI
// document (shared/openapi; make generate). Their routes and auth are in
// their function.yaml.
func Operations() []apidoc.Operation {
	return []apidoc.Operation{
		{
			Function: "inventory-create", Request: CreateRequest{}, Response: Product{}, Status: http.StatusCreated,
			RequestFields: map[string]map[string]any{"sku": {"pattern": SKUPattern}},
			Statuses:      errs.Statuses(ErrSKUTaken),
			Idempotency:   apidoc.OptionalIdempotencyKey, ETag: true, Location: true,
		},
		{
			Function: "inventory-get", Response: Product{}, Status: http.StatusOK,
			Statuses: errs.Statuses(ErrNotFound),
			ETag:     true, CacheControl: httpapi.CachePublicCatalog, NotModified: true,
		},
		{
			Function: "inventory-update", Request: UpdateRequest{}, Response: Product{}, Status: http.StatusOK,
			Statuses:    errs.Statuses(ErrNotFound, ErrVersionMismatch),
			Idempotency: apidoc.OptionalIdempotencyKey, IfMatch: true, ETag: true,
		},
		{
			// 204, no body; deleting a deleted product is 204 again.
			Function: "inventory-delete", Status: http.StatusNoContent,
			Statuses: errs.Statuses(ErrNotFound, ErrVersionMismatch, ErrHasReservations),
			IfMatch:  true,
		},
		{
			Function: "inventory-list", Response: Page{}, Status: http.StatusOK,
			Statuses: errs.Statuses(ErrBadCursor),
			ETag:     true, CacheControl: httpapi.CachePublicCatalog, NotModified: true,
			Query: []apidoc.Param{
				{Name: "limit", Description: "page size", Integer: true, Min: 1, Max: MaxLimit},
				{Name: "cursor", Description: "nextCursor of the previous page"},
				{Name: "ids", Description: "up to 50 comma-separated product ids, read at once (not with limit, cursor or sku)"},
				{Name: "sku", Description: "the product with this SKU, as a page of one or none (not with limit, cursor or ids)"},
			},
		},
		{
			Function: "inventory-adjust-stock", Request: StockRequest{}, Response: Product{}, Status: http.StatusOK,
			Statuses:    errs.Statuses(ErrNotFound, ErrInsufficientStock, ErrStockLimit),
			Idempotency: apidoc.RequiredIdempotencyKey, ETag: true,
		},
	}
}
