// Command inventory/list lists products a page at a time (GET /v1/products).
package main

import (
	"net/http"

	"github.com/shop-serverless/shop/functions/inventory"
	"github.com/shop-serverless/shop/shared/httpfn"
)

func main() {
	httpfn.Start(func(d httpfn.Deps) (http.Handler, error) {
		return inventory.List(inventory.NewStore(d.DB, d.Config.Table)), nil
	})
}
