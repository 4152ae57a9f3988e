// Command orders/cancel asks to cancel an order (POST /v1/orders/{id}/cancel); only its customer, with an Idempotency-Key.
package main

import (
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/shop-serverless/shop/functions/orders"
	"github.com/shop-serverless/shop/shared/config"
	"github.com/shop-serverless/shop/shared/httpfn"
	"github.com/shop-serverless/shop/shared/idempotency"
)

// env is what the deployment gives this function beyond config.Function
// (manifest permissions startExecution).
type env struct {
	Saga string `env:"SHOP_STATE_MACHINE_SAGA,required"`
}

func main() {
	httpfn.Start(func(d httpfn.Deps) (http.Handler, error) {
		e, err := config.Load[env]()
		if err != nil {
			return nil, err
		}
		// Made on first use: only a confirmed order's cancel starts an execution.
		executions := sync.OnceValue(func() orders.Executions { return sfn.NewFromConfig(d.AWS) })
		h := orders.Cancel(orders.NewStore(d.DB, d.Config.Table), orders.NewSaga(executions, e.Saga))
		return idempotency.New(d.DB, d.Config.Table, idempotency.Options{Scope: d.Config.Function, Required: true}).Wrap(h), nil
	})
}
