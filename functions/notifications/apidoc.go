package notifications

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
			Function: "notifications-list", Response: Page{}, Status: http.StatusOK,
			Statuses: append(errs.Statuses(ErrInvalidCursor), http.StatusForbidden),
			ETag:     true, CacheControl: httpapi.CachePrivate, NotModified: true,
			Query: []apidoc.Param{
				{Name: "limit", Description: "page size", Integer: true, Min: 1, Max: MaxLimit},
				{Name: "cursor", Description: "nextCursor of the previous page"},
			},
		},
	}
}
