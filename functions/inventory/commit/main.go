// Command inventory/commit is the saga step inventory-commit: Turn an order's reserved stock into sold stock (saga step).
package main

import (
	"context"

	"github.com/shop-serverless/shop/functions/inventory"
	"github.com/shop-serverless/shop/shared/stepfn"
)

func main() {
	stepfn.Start(inventory.StepScope, func(d stepfn.Deps) (func(context.Context, inventory.OrderIn) (inventory.StepOut, error), error) {
		return inventory.Commit(inventory.NewStore(d.DB, d.Config.Table)), nil
	})
}
