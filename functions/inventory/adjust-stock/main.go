// Command inventory/adjust-stock adds to or takes from a product's stock (POST /v1/products/{id}/stock, scope inventory:write); an Idempotency-Key is required, since a delta applied twice is two deltas.
package main

import (
	"net/http"

	"github.com/shop-serverless/shop/functions/inventory"
	"github.com/shop-serverless/shop/shared/httpfn"
	"github.com/shop-serverless/shop/shared/idempotency"
)

func main() {
	httpfn.Start(func(d httpfn.Deps) (http.Handler, error) {
		h := inventory.AdjustStock(inventory.NewStore(d.DB, d.Config.Table))
		return idempotency.New(d.DB, d.Config.Table, idempotency.Options{Scope: d.Config.Function, Required: true}).Wrap(h), nil
	})
}
