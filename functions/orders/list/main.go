// Command orders/list lists a user's orders, newest first (GET /v1/users/{id}/orders); only the user themself or a service with orders:read.
package main

import (
	"net/http"

	"github.com/shop-serverless/shop/functions/orders"
	"github.com/shop-serverless/shop/shared/httpfn"
)

func main() {
	httpfn.Start(func(d httpfn.Deps) (http.Handler, error) {
		return orders.List(orders.NewStore(d.DB, d.Config.Table)), nil
	})
}
