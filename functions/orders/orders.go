// Package orders is the orders service: a customer's orders, event-sourced.
// Each change to an order is an event appended under a version condition,
// written in one transaction with the order's current state (store.go), so
// the state can always be rebuilt from the events (Rebuild, events.go) and
// two writers can never both win.
//
// Each operation is one function under functions/orders/<op> whose handler
// is in this package, one file per operation: the HTTP API (create.go,
// get.go, list.go, cancel.go) and the saga's steps (mark_confirmed.go,
// mark_cancelled.go). The Step Functions calls are in saga.go, the calls to
// the users and inventory APIs in deps.go, the events it publishes (through
// its outbox, in the transaction of the change they announce) in
// published.go, and the domain errors, with their HTTP statuses and Step
// Functions names, in errors.go.
package orders

import (
	"time"

	"github.com/shop-serverless/shop/shared/money"
)

// Scopes a service token may carry for this service.
const (
	// ScopeRead lets a service read any order.
	ScopeRead = "orders:read"
	// ScopeSaga lets a caller invoke the saga steps over HTTP (Knative); on
	// Lambda, IAM decides who may invoke them.
	ScopeSaga = "orders:saga"
)

// Status is where an order stands. PENDING is the only status the saga
// moves an order out of; CONFIRMED may still become CANCELLED (a cancel
// after confirmation), CANCELLED is final.
type Status string

// Statuses.
const (
	StatusPending   Status = "PENDING"
	StatusConfirmed Status = "CONFIRMED"
	StatusCancelled Status = "CANCELLED"
)

// Reason says why an order was cancelled.
type Reason string

// Cancel reasons, each set by the saga's compensation that ends the order.
const (
	ReasonOutOfStock         Reason = "OUT_OF_STOCK"
	ReasonPaymentDeclined    Reason = "PAYMENT_DECLINED"
	ReasonPaymentUnavailable Reason = "PAYMENT_UNAVAILABLE"
	ReasonCancelledByUser    Reason = "CANCELLED_BY_USER"
	ReasonInternal           Reason = "INTERNAL"
)

// Valid reports one of the five reasons.
func (r Reason) Valid() bool {
	switch r {
	case ReasonOutOfStock, ReasonPaymentDeclined, ReasonPaymentUnavailable, ReasonCancelledByUser, ReasonInternal:
		return true
	}
	return false
}

// Line is one product of an order, priced from the catalog when the order
// was placed: later price changes do not touch it.
type Line struct {
	ProductID string      `json:"productId" dynamodbav:"productId"`
	SKU       string      `json:"sku" dynamodbav:"sku"`
	Name      string      `json:"name" dynamodbav:"name"`
	Quantity  int64       `json:"quantity" dynamodbav:"quantity"`
	UnitPrice money.Money `json:"unitPrice" dynamodbav:"unitPrice"`
}

// Change is one entry of an order's status history.
type Change struct {
	Status Status    `json:"status" dynamodbav:"status"`
	At     time.Time `json:"at" dynamodbav:"at"`
	Reason Reason    `json:"reason,omitempty" dynamodbav:"reason,omitempty"`
}

// Order is an order's current state: what the state item holds and what
// Rebuild makes of the order's events.
type Order struct {
	ID     string `json:"id" dynamodbav:"id"`
	UserID string `json:"userId" dynamodbav:"userId"`
	// CustomerName is the customer's name as the users service gave it when
	// the order was placed, or as a later user.updated event renamed them
	// (CustomerRenamed).
	CustomerName string `json:"customerName,omitempty" dynamodbav:"customerName,omitempty"`
	// CustomerVersion is the user's version CustomerName was read at: a
	// user.updated event renames the customer only if it is newer.
	CustomerVersion int64       `json:"-" dynamodbav:"customerVersion,omitempty"`
	Status          Status      `json:"status" dynamodbav:"status"`
	Items           []Line      `json:"items" dynamodbav:"items"`
	Total           money.Money `json:"total" dynamodbav:"total"`
	// CancelRequested is set once the customer asked to cancel; the saga
	// then refuses to confirm a PENDING order, and a CONFIRMED one is
	// compensated by a cancel execution.
	CancelRequested bool     `json:"cancelRequested,omitempty" dynamodbav:"cancelRequested,omitempty"`
	CancelReason    Reason   `json:"cancelReason,omitempty" dynamodbav:"cancelReason,omitempty"`
	History         []Change `json:"history" dynamodbav:"history"`
	// PaymentToken is the payment method's provider token, kept so that a
	// retried POST (re)starts the saga with the input of the first. It is
	// never shown: a token is the means to pay.
	PaymentToken string    `json:"-" dynamodbav:"paymentToken"`
	CreatedAt    time.Time `json:"createdAt" dynamodbav:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt" dynamodbav:"updatedAt"`
	Version      int64     `json:"version" dynamodbav:"version"`
}

// Customer is who places an order as the users service knows them: the
// name, and the user's version it was read at.
type Customer struct {
	Name    string `json:"name" dynamodbav:"name"`
	Version int64  `json:"version" dynamodbav:"version"`
}
