package orders

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
			// 403: a service token (orders are placed by customers).
			Function: "orders-create", Request: CreateRequest{}, Response: Order{}, Status: http.StatusAccepted,
			Statuses: append(errs.Statuses(ErrOrderExists, ErrUnknownUser, ErrUnknownProduct, ErrMixedCurrencies,
				ErrTotalOutOfRange, ErrKeyReused), http.StatusForbidden),
			Idempotency: apidoc.RequiredIdempotencyKey, ETag: true, Location: true,
		},
		{
			Function: "orders-get", Response: Order{}, Status: http.StatusOK,
			Statuses: append(errs.Statuses(ErrOrderNotFound), http.StatusForbidden), ETag: true, CacheControl: httpapi.CachePrivate, NotModified: true,
		},
		{
			Function: "orders-list", Response: Page{}, Status: http.StatusOK,
			Statuses: append(errs.Statuses(ErrInvalidCursor), http.StatusForbidden),
			ETag:     true, CacheControl: httpapi.CachePrivate, NotModified: true,
			Query: []apidoc.Param{
				{Name: "limit", Description: "page size", Integer: true, Min: 1, Max: MaxLimit},
				{Name: "cursor", Description: "nextCursor of the previous page"},
			},
		},
		{
			Function: "orders-cancel", Response: Order{}, Status: http.StatusAccepted,
			Statuses:    append(errs.Statuses(ErrOrderNotFound, ErrAlreadyCancelled), http.StatusForbidden),
			Idempotency: apidoc.RequiredIdempotencyKey, ETag: true,
		},
	}
}
