// Command orders/mark-confirmed is the saga step that confirms a PENDING order.
package main

import (
	"context"

	"github.com/shop-serverless/shop/functions/orders"
	"github.com/shop-serverless/shop/shared/stepfn"
)

func main() {
	stepfn.Start(orders.ScopeSaga, func(d stepfn.Deps) (func(context.Context, orders.StepIn) (orders.StepOut, error), error) {
		return orders.MarkConfirmed(orders.NewStore(d.DB, d.Config.Table), d.Faults), nil
	})
}
