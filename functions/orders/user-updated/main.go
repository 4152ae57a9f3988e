// Command orders/user-updated is the consumer orders-user-updated: a
// user's new name reaches their live orders (user.updated events).
package main

import (
	"github.com/shop-serverless/shop/functions/orders"
	"github.com/shop-serverless/shop/shared/runtime/consumer"
)

func main() {
	consumer.Start(orders.ScopeEvents, func(d consumer.Deps) (consumer.Handler, error) {
		return consumer.Inbound(orders.UserUpdated(orders.NewStore(d.DB, d.Config.Table))), nil
	})
}
