// Command inventory/update changes a product's name, price or low-stock threshold (PATCH /v1/products/{id}, scope inventory:write) under If-Match; an Idempotency-Key makes retries replay the first answer.
package main

import (
	"net/http"

	"github.com/shop-serverless/shop/functions/inventory"
	"github.com/shop-serverless/shop/shared/httpfn"
	"github.com/shop-serverless/shop/shared/idempotency"
)

func main() {
	httpfn.Start(func(d httpfn.Deps) (http.Handler, error) {
		h := inventory.Update(inventory.NewStore(d.DB, d.Config.Table))
		return idempotency.New(d.DB, d.Config.Table, idempotency.Options{Scope: d.Config.Function, Required: false}).Wrap(h), nil
	})
}
