package provider

import "github.com/shop-serverless/shop/shared/paymentkey"

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
