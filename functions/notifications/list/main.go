// Command notifications/list lists a user's notifications, newest first
// (GET /v1/users/{id}/notifications); only the user themself.
package main

import (
	"net/http"

	"github.com/shop-serverless/shop/functions/notifications"
	"github.com/shop-serverless/shop/shared/httpfn"
)

func main() {
	httpfn.Start(func(d httpfn.Deps) (http.Handler, error) {
		return notifications.List(notifications.NewStore(d.DB, d.Config.Table)), nil
	})
}
