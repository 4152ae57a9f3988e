// Command payments/refund is the saga step payments-refund: Refund an order's charge, at most once and never above it (saga compensation).
package main

import (
	"context"

	"github.com/shop-serverless/shop/functions/payments"
	"github.com/shop-serverless/shop/shared/config"
	"github.com/shop-serverless/shop/shared/stepfn"
)

func main() {
	stepfn.Start(payments.StepScope, func(d stepfn.Deps) (func(context.Context, payments.RefundIn) (payments.RefundOut, error), error) {
		cfg, err := config.Load[payments.ProviderConfig]()
		if err != nil {
			return nil, err
		}
		provider, err := payments.NewProvider(cfg, d.AWS, d.DB, d.Config.Prefix)
		if err != nil {
			return nil, err
		}
		return payments.Refund(payments.NewStore(d.DB, d.Config.Table), provider), nil
	})
}
