// Package payments is the payments service: one payment per order, charged
// and refunded through the payment provider (a real HTTP call, behind the
// shared "payment-provider" circuit breaker). The saga steps are in
// charge.go and refund.go, GET /v1/orders/{id}/payment in get.go, the
// provider client in provider.go, the DynamoDB code in store.go, the events
// it publishes (through its outbox) in published.go and the domain errors,
// with their Step Functions names, in errors.go.
package payments

import (
	"fmt"

	"github.com/shop-serverless/shop/shared/money"
)

// StepScope is what a Knative caller's service token must grant to run a
// payments step (on Lambda, IAM decides who may invoke it).
const StepScope = "payments:saga"

// ChargeIn is the input of payments-charge.
type ChargeIn struct {
	OrderID      string      `json:"orderId"`
	UserID       string      `json:"userId"`
	Amount       money.Money `json:"amount"`
	PaymentToken string      `json:"paymentToken"`
}

// ChargeOut is the output of payments-charge; Status is CHARGED.
type ChargeOut struct {
	OrderID     string `json:"orderId"`
	Status      string `json:"status"`
	ProviderRef string `json:"providerRef"`
}

// RefundIn is the input of payments-refund.
type RefundIn struct {
	OrderID string `json:"orderId"`
}

// RefundOut is the output of payments-refund; Status is REFUNDED or
// NOT_CHARGED.
type RefundOut struct {
	OrderID string `json:"orderId"`
	Status  string `json:"status"`
}

func checkOrderID(id string) error {
	if !validID(id) {
		return fmt.Errorf("%w: orderId must be 1 to 128 letters, digits, '_' or '-'", ErrInvalidStepInput)
	}
	return nil
}

// Validate checks a charge: ids, a positive amount in a known currency, a
// token.
func (in ChargeIn) Validate() error {
	if err := checkOrderID(in.OrderID); err != nil {
		return err
	}
	if !validID(in.UserID) {
		return fmt.Errorf("%w: userId must be 1 to 128 letters, digits, '_' or '-'", ErrInvalidStepInput)
	}
	if err := in.Amount.Validate(); err != nil || in.Amount.Amount == 0 {
		return fmt.Errorf("%w: amount must be a positive amount in a known currency", ErrInvalidStepInput)
	}
	if !validToken(in.PaymentToken) {
		return fmt.Errorf("%w: paymentToken must be 1 to 128 letters, digits or '_'", ErrInvalidStepInput)
	}
	return nil
}
