// Command users/register registers an account (POST /v1/users); an Idempotency-Key makes retries replay the first answer.
package main

import (
	"net/http"

	"github.com/shop-serverless/shop/functions/users"
	"github.com/shop-serverless/shop/shared/httpfn"
	"github.com/shop-serverless/shop/shared/idempotency"
)

func main() {
	httpfn.Start(func(d httpfn.Deps) (http.Handler, error) {
		h := users.Register(users.NewStore(d.DB, d.Config.Table))
		return idempotency.New(d.DB, d.Config.Table, idempotency.Options{
			Scope: d.Config.Function, Required: false, SecretFields: users.RegisterSecrets(),
		}).Wrap(h), nil
	})
}
