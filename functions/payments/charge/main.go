// Command payments/charge is the saga step payments-charge: Charge an order's total through the payment provider, once (saga step).
package main

import "github.com/shop-serverless/shop/functions/payments"

func main() { payments.StartStep(payments.Charge) }
