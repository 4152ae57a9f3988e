// Command users/update updates a user's profile and preferences (PATCH /v1/users/{id}) under If-Match; only the user themself.
package main

import (
	"net/http"

	"github.com/shop-serverless/shop/functions/users"
	"github.com/shop-serverless/shop/shared/httpfn"
)

func main() {
	httpfn.Start(func(d httpfn.Deps) (http.Handler, error) {
		return users.Update(users.NewStore(d.DB, d.Config.Table)), nil
	})
}
