// Command notifications/notify is the consumer notifications-notify: it
// stores a notification per affected user for order, payment and low-stock
// events, and keeps the projections they need.
package main

import (
	"github.com/shop-serverless/shop/functions/notifications"
	"github.com/shop-serverless/shop/shared/runtime/consumer"
)

func main() {
	consumer.Start(notifications.ScopeDeliver, func(d consumer.Deps) (consumer.Handler, error) {
		return consumer.Inbound(notifications.Notify(notifications.NewStore(d.DB, d.Config.Table))), nil
	})
}
