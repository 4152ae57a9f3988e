// Command payments/get reads an order's payment (GET /v1/orders/{id}/payment, the order's owner).
package main

import (
	"net/http"

	"github.com/shop-serverless/shop/functions/payments"
	"github.com/shop-serverless/shop/shared/httpfn"
)

func main() {
	httpfn.Start(func(d httpfn.Deps) (http.Handler, error) {
		return payments.Get(payments.NewStore(d.DB, d.Config.Table)), nil
	})
}
