// Command inventory/adjust-stock adds to or takes from a product's stock (POST /v1/products/{id}/stock); an Idempotency-Key is required.
package main

import (
	"context"

	"github.com/shop-serverless/shop/functions/inventory"
	"github.com/shop-serverless/shop/shared/auth"
	"github.com/shop-serverless/shop/shared/config"
	"github.com/shop-serverless/shop/shared/faults"
	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/idempotency"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/runtime"
	"github.com/shop-serverless/shop/shared/store"
)

func main() {
	cfg, err := config.Load[config.Function]()
	if err != nil {
		runtime.Fatal("config", err)
	}
	db, err := store.NewDynamoDB(context.Background())
	if err != nil {
		runtime.Fatal("dynamodb client", err)
	}
	h := inventory.AdjustStock(inventory.NewStore(db, cfg.Table))
	h = idempotency.New(db, cfg.Table, idempotency.Options{Scope: cfg.Function, Required: true}).Wrap(h)
	// Faults sit outside auth so that a test can make the whole function fail
	// (SHOP_FAULTS=1 only: a no-op everywhere else).
	h = faults.New(db, cfg.Table, cfg.Function).Middleware(auth.Require(cfg.Auth, h))
	runtime.StartHTTP(httpapi.Middleware(log.New(cfg.Function), h))
}
