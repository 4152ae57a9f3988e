// Package provider is a payment provider simulator, deployed only on local
// stacks (service.yaml: localOnly), so that payments makes a real HTTP call
// to something that behaves like a card processor:
//
//	POST /provider/v1/charges  Idempotency-Key: <key>  {"amount","currency","source","reference"}
//	POST /provider/v1/refunds  Idempotency-Key: <key>  {"reference","amount"}
//
// Callers authenticate with "Authorization: Bearer <apiKey>", the key held
// in the Secrets Manager secret SHOP_PAYMENT_PROVIDER_SECRET ({"apiKey":…}).
// The source of a charge is a test token, as real providers have them:
//
//	tok_visa            201, charged
//	tok_chargeDeclined  402 card_declined
//	tok_error           500, every time
//	tok_flaky           503 on the first two attempts per idempotency key, then 201
//	tok_timeout         charged, but every answer comes 6 s late (past the caller's timeout)
//	anything else       400 invalid_source
//
// There is at most one charge per reference, whatever the keys (a replay
// answers the stored charge), and at most one refund per charge, never
// above its amount. The table records each (CHARGE#<reference>/CHARGE:
// status, amount, attempts, refundedAmount), so end-to-end tests can check
// "charged once" and "refunded once".
package provider

import (
	"time"
)

// Test tokens.
const (
	TokenVisa     = "tok_visa"
	TokenDeclined = "tok_chargeDeclined"
	TokenError    = "tok_error"
	TokenFlaky    = "tok_flaky"
	TokenTimeout  = "tok_timeout"
)

// FlakyFailures is how many attempts per idempotency key tok_flaky fails.
const FlakyFailures = 2

// DefaultHang is how long tok_timeout makes every answer wait.
const DefaultHang = 6 * time.Second

// knownToken reports a source the simulator accepts.
func knownToken(source string) bool {
	switch source {
	case TokenVisa, TokenDeclined, TokenError, TokenFlaky, TokenTimeout:
		return true
	}
	return false
}

// ChargeRequest is the body of POST /v1/charges.
type ChargeRequest struct {
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Source    string `json:"source"`
	Reference string `json:"reference"`
}

// Charge is the answer to a successful charge.
type Charge struct {
	ID        string `json:"id"`
	Status    string `json:"status"` // succeeded
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Reference string `json:"reference"`
}

// RefundRequest is the body of POST /v1/refunds.
type RefundRequest struct {
	Reference string `json:"reference"`
	Amount    int64  `json:"amount"`
}

// Refund is the answer to a successful refund.
type Refund struct {
	ID        string `json:"id"`
	Status    string `json:"status"` // succeeded
	Amount    int64  `json:"amount"`
	Reference string `json:"reference"`
}

// ErrorBody is every error answer: {"error":{"type","code"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail names an error as card processors do.
type ErrorDetail struct {
	Type string `json:"type,omitempty"`
	Code string `json:"code"`
}

// Stored charge statuses.
const (
	chargeSucceeded = "succeeded"
	chargeDeclined  = "declined"
)
