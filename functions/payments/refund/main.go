// Command payments/refund is the saga step payments-refund: Refund an order's charge, at most once and never above it (saga compensation).
package main

import "github.com/shop-serverless/shop/functions/payments"

func main() { payments.StartStep(payments.Refund) }
