// Command orders/get reads an order (GET /v1/orders/{id}); only its customer or a service with orders:read.
package main

import (
	"net/http"

	"github.com/shop-serverless/shop/functions/orders"
	"github.com/shop-serverless/shop/shared/httpfn"
)

func main() {
	httpfn.Start(func(d httpfn.Deps) (http.Handler, error) {
		return orders.Get(orders.NewStore(d.DB, d.Config.Table)), nil
	})
}
