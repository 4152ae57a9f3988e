// Command inventory/get reads a product (GET /v1/products/{id}).
package main

import (
	"net/http"

	"github.com/shop-serverless/shop/functions/inventory"
	"github.com/shop-serverless/shop/shared/httpfn"
)

func main() {
	httpfn.Start(func(d httpfn.Deps) (http.Handler, error) {
		return inventory.Get(inventory.NewStore(d.DB, d.Config.Table)), nil
	})
}
