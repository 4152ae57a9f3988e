// Command inventory/reserve is the saga step inventory-reserve: Reserve every line of an order in one transaction, or none (saga step).
package main

import (
	"context"

	"github.com/shop-serverless/shop/functions/inventory"
	"github.com/shop-serverless/shop/shared/stepfn"
)

func main() {
	stepfn.Start(inventory.StepScope, func(d stepfn.Deps) (func(context.Context, inventory.ReserveIn) (inventory.StepOut, error), error) {
		return inventory.Reserve(inventory.NewStore(d.DB, d.Config.Table)), nil
	})
}
