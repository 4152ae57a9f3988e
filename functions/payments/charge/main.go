// Command payments/charge is the saga step payments-charge: Charge an order's total through the payment provider, once (saga step).
package main

import (
	"context"

	"github.com/shop-serverless/shop/functions/payments"
	"github.com/shop-serverless/shop/shared/config"
	"github.com/shop-serverless/shop/shared/stepfn"
)

func main() {
	stepfn.Start(payments.StepScope, func(d stepfn.Deps) (func(context.Context, payments.ChargeIn) (payments.ChargeOut, error), error) {
		cfg, err := config.Load[payments.ProviderConfig]()
		if err != nil {
			return nil, err
		}
		provider, err := payments.NewProvider(cfg, d.AWS, d.DB, d.Config.Prefix)
		if err != nil {
			return nil, err
		}
		return payments.Charge(payments.NewStore(d.DB, d.Config.Table), provider), nil
	})
}
