// Command inventory/receive-stock is the consumer inventory-receive-stock:
// a warehouse's delivery (shop.warehouse.stock.received.v1) adds to the
// product's available stock, once per event.
package main

import (
	"github.com/shop-serverless/shop/functions/inventory"
	"github.com/shop-serverless/shop/shared/runtime/consumer"
)

func main() {
	consumer.Start(inventory.ScopeEvents, func(d consumer.Deps) (consumer.Handler, error) {
		return consumer.Inbound(inventory.ReceiveStock(inventory.NewStore(d.DB, d.Config.Table))), nil
	})
}
