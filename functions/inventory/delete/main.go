// Command inventory/delete takes a product out of the catalog (DELETE /v1/products/{id}, scope inventory:write) under If-Match; it is kept for the orders that name it.
package main

import (
	"net/http"

	"github.com/shop-serverless/shop/functions/inventory"
	"github.com/shop-serverless/shop/shared/httpfn"
)

func main() {
	httpfn.Start(func(d httpfn.Deps) (http.Handler, error) {
		return inventory.Delete(inventory.NewStore(d.DB, d.Config.Table)), nil
	})
}
