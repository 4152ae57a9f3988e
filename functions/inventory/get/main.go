// Command inventory/get reads a product (GET /v1/products/{id}).
package main

import (
	"context"

	"github.com/shop-serverless/shop/functions/inventory"
	"github.com/shop-serverless/shop/shared/auth"
	"github.com/shop-serverless/shop/shared/config"
	"github.com/shop-serverless/shop/shared/faults"
	"github.com/shop-serverless/shop/shared/httpapi"
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
	h := inventory.Get(inventory.NewStore(db, cfg.Table))
	// Faults sit outside auth so that a test can make the whole function fail
	// (SHOP_FAULTS=1 only: a no-op everywhere else).
	h = faults.New(db, cfg.Table, cfg.Function).Middleware(auth.Require(cfg.Auth, h))
	runtime.StartHTTP(httpapi.Middleware(log.New(cfg.Function), h))
}
