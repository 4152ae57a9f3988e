// Command orders/mark-cancelled is the saga step that ends an order CANCELLED with a reason.
package main

import (
	"context"

	"github.com/shop-serverless/shop/functions/orders"
	"github.com/shop-serverless/shop/shared/stepfn"
)

func main() {
	stepfn.Start(orders.ScopeSaga, func(d stepfn.Deps) (func(context.Context, orders.CancelStepIn) (orders.StepOut, error), error) {
		return orders.MarkCancelled(orders.NewStore(d.DB, d.Config.Table)), nil
	})
}
