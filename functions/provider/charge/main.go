// Command provider/charge is the payment provider simulator's /provider/v1/charges (local stacks only); callers present the API key of the secret SHOP_PAYMENT_PROVIDER_SECRET.
package main

import (
	"net/http"

	"github.com/shop-serverless/shop/functions/provider"
)

func main() {
	provider.Start(func(st *provider.Store, key provider.APIKey) http.Handler {
		return provider.Charges(st, key, provider.Options{})
	})
}
