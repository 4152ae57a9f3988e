// Command orders/create places an order (POST /v1/orders, a customer's user token); an Idempotency-Key is required, and with the customer it names the order, so a retry finds the order and the saga its first attempt started.
package main

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/shop-serverless/shop/functions/orders"
	"github.com/shop-serverless/shop/shared/breaker"
	"github.com/shop-serverless/shop/shared/client"
	"github.com/shop-serverless/shop/shared/config"
	"github.com/shop-serverless/shop/shared/httpfn"
	"github.com/shop-serverless/shop/shared/idempotency"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/servicetoken/keystore"
)

// env is what the deployment gives this function beyond config.Function
// (manifest permissions calls and startExecution).
type env struct {
	APIURL string `env:"SHOP_API_URL,required" validate:"http_url"`
	Saga   string `env:"SHOP_STATE_MACHINE_SAGA,required"`
}

// tokenTTL is the orders service token's life: minted once per few minutes
// per instance (servicetoken.TokenSource reuses it).
const tokenTTL = 5 * time.Minute

func main() {
	httpfn.Start(func(d httpfn.Deps) (http.Handler, error) {
		e, err := config.Load[env]()
		if err != nil {
			return nil, err
		}
		// AWS clients are made on first use: a cold start whose first
		// request is a replay needs neither.
		executions := sync.OnceValue(func() orders.Executions { return sfn.NewFromConfig(d.AWS) })
		signers := sync.OnceValue(func() *keystore.SignerSource {
			return keystore.NewSignerSource(secretsmanager.NewFromConfig(d.AWS), d.Config.Prefix, d.Config.Service)
		})
		tokens := servicetoken.NewTokenSource(func(ctx context.Context) (*servicetoken.Signer, error) { return signers().Signer(ctx) },
			d.Config.Service, naming.Audience(d.Config.Prefix), []string{"users:read"}, tokenTTL)

		shared := breaker.NewShared(d.DB, naming.Table(d.Config.Prefix, naming.PlatformService))
		users, err := dependency("users", e.APIURL, tokens, shared)
		if err != nil {
			return nil, err
		}
		catalog, err := dependency("inventory", e.APIURL, nil, shared) // the catalog read needs no token
		if err != nil {
			return nil, err
		}
		h := orders.Create(orders.NewStore(d.DB, d.Config.Table), orders.UsersAPI{Client: users}, orders.CatalogAPI{Client: catalog},
			orders.NewSaga(executions, e.Saga))
		return idempotency.New(d.DB, d.Config.Table, idempotency.Options{Scope: d.Config.Function, Required: true}).Wrap(h), nil
	})
}

// dependency is the client of one API of the stack, behind its breaker.
func dependency(name, baseURL string, tokens client.TokenSource, shared *breaker.Shared) (*client.Client, error) {
	settings, err := breaker.SettingsFromEnv(name)
	if err != nil {
		return nil, err
	}
	return client.New(client.Config{Name: name, BaseURL: baseURL, Tokens: tokens, Breaker: breaker.New(settings, shared)})
}
