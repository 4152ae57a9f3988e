// Command users/get reads a user (GET /v1/users/{id}); only the user themself or a service with users:read.
package main

import (
	"net/http"

	"github.com/shop-serverless/shop/functions/users"
	"github.com/shop-serverless/shop/shared/httpfn"
)

func main() {
	httpfn.Start(func(d httpfn.Deps) (http.Handler, error) {
		return users.Get(users.NewStore(d.DB, d.Config.Table)), nil
	})
}
