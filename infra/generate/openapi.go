package main

import (
	"slices"

	"github.com/shop-serverless/shop/functions/inventory"
	"github.com/shop-serverless/shop/functions/notifications"
	"github.com/shop-serverless/shop/functions/orders"
	"github.com/shop-serverless/shop/functions/payments"
	"github.com/shop-serverless/shop/functions/platform/ingestion"
	"github.com/shop-serverless/shop/functions/users"
	"github.com/shop-serverless/shop/shared/apidoc"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/openapi"
)

// OpenAPIFile is the generated OpenAPI document. It lives in the directory
// of the function that serves it (GET /v1/openapi.json), because go:embed
// takes files of the package's own directory only; the README links it.
const OpenAPIFile = "functions/platform/openapi/openapi.json"

// Operations is every documented HTTP operation: each service's table
// (its apidoc.go) and the document's own. A new service with http routes
// adds its Operations here; a route without one fails make generate.
func Operations() []apidoc.Operation {
	return slices.Concat(
		inventory.Operations(),
		notifications.Operations(),
		orders.Operations(),
		payments.Operations(),
		ingestion.Operations(),
		users.Operations(),
		[]apidoc.Operation{openapi.Self()},
	)
}

func openAPIDocument(set *manifest.Set) ([]byte, error) {
	return openapi.Build(set, Operations())
}
