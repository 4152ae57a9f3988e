package payments

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
			Function: "payments-get", Response: View{}, Status: http.StatusOK,
			Statuses: append(errs.Statuses(ErrNotFound), http.StatusForbidden), ETag: true, CacheControl: httpapi.CachePrivate, NotModified: true,
		},
	}
}
