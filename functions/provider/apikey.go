package provider

import (
	"net/http"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/shop-serverless/shop/shared/config"
	"github.com/shop-serverless/shop/shared/httpfn"
	"github.com/shop-serverless/shop/shared/paymentkey"
)

// SecretAPIKey is the API key held in the secret named name, read on first
// use and kept (shared/paymentkey: the format payments sends it from).
func SecretAPIKey(newReader func() paymentkey.SecretReader, name string) APIKey {
	return paymentkey.New(newReader, name).Token
}

// Config is the simulator's own setting, beside config.Function.
type Config struct {
	// Secret names the Secrets Manager secret holding the API key.
	Secret string `env:"SHOP_PAYMENT_PROVIDER_SECRET,required"`
}

// Start serves the simulator route that route makes from the simulator's
// store and the API key its callers must present: the wiring both its
// functions share (shared/httpfn does the rest).
func Start(route func(st *Store, key APIKey) http.Handler) {
	httpfn.Start(func(d httpfn.Deps) (http.Handler, error) {
		cfg, err := config.Load[Config]()
		if err != nil {
			return nil, err
		}
		key := SecretAPIKey(func() paymentkey.SecretReader { return secretsmanager.NewFromConfig(d.AWS) }, cfg.Secret)
		return route(NewStore(d.DB, d.Config.Table), key), nil
	})
}
