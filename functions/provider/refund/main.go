// Command provider/refund is the payment provider simulator's /provider/v1/refunds (local stacks only); callers present the API key of the secret SHOP_PAYMENT_PROVIDER_SECRET.
package main

import (
	"net/http"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/shop-serverless/shop/functions/provider"
	"github.com/shop-serverless/shop/shared/config"
	"github.com/shop-serverless/shop/shared/httpfn"
	"github.com/shop-serverless/shop/shared/paymentkey"
)

func main() {
	httpfn.Start(func(d httpfn.Deps) (http.Handler, error) {
		cfg, err := config.Load[provider.Config]()
		if err != nil {
			return nil, err
		}
		key := provider.SecretAPIKey(func() paymentkey.SecretReader { return secretsmanager.NewFromConfig(d.AWS) }, cfg.Secret)
		st := provider.NewStore(d.DB, d.Config.Table)
		return provider.Refunds(st, key), nil
	})
}
