// Command inventory/restock is the saga step inventory-restock: Return the sold stock of a cancelled order to available (saga compensation).
package main

import (
	"context"

	"github.com/shop-serverless/shop/functions/inventory"
	"github.com/shop-serverless/shop/shared/stepfn"
)

func main() {
	stepfn.Start(inventory.StepScope, func(d stepfn.Deps) (func(context.Context, inventory.OrderIn) (inventory.StepOut, error), error) {
		return inventory.Restock(inventory.NewStore(d.DB, d.Config.Table)), nil
	})
}
