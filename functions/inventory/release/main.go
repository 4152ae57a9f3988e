// Command inventory/release is the saga step inventory-release: Return an order's reserved stock; a tombstone when nothing was reserved (saga compensation).
package main

import (
	"context"

	"github.com/shop-serverless/shop/functions/inventory"
	"github.com/shop-serverless/shop/shared/stepfn"
)

func main() {
	stepfn.Start(inventory.StepScope, func(d stepfn.Deps) (func(context.Context, inventory.OrderIn) (inventory.StepOut, error), error) {
		return inventory.Release(inventory.NewStore(d.DB, d.Config.Table)), nil
	})
}
