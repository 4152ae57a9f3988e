package orders

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/shop-serverless/shop/shared/money"
)

// EventType names what happened to an order.
type EventType string

// Event types. An order starts with OrderPlaced; CancelRequested may follow
// while it is PENDING or CONFIRMED; OrderConfirmed only while PENDING and
// no cancel was requested; OrderCancelled ends it. CustomerRenamed may
// come while the order is not CANCELLED, with a version of the user newer
// than the one the order has (a user.updated event's).
const (
	EventOrderPlaced     EventType = "OrderPlaced"
	EventCancelRequested EventType = "CancelRequested"
	EventOrderConfirmed  EventType = "OrderConfirmed"
	EventOrderCancelled  EventType = "OrderCancelled"
	EventCustomerRenamed EventType = "CustomerRenamed"
)

// Event is one change to an order, stored as item ORDER#<id> /
// EVENT#<version, zero-padded to 10 digits>. Version n is the order's n-th
// event; the state item's version is its last event's.
type Event struct {
	OrderID string    `json:"orderId" dynamodbav:"orderId"`
	Version int64     `json:"version" dynamodbav:"version"`
	Type    EventType `json:"type" dynamodbav:"type"`
	At      time.Time `json:"at" dynamodbav:"at"`
	// Placed is OrderPlaced's data: everything the order starts with.
	Placed *Placed `json:"placed,omitempty" dynamodbav:"placed,omitempty"`
	// Reason is OrderCancelled's.
	Reason Reason `json:"reason,omitempty" dynamodbav:"reason,omitempty"`
	// Customer is CustomerRenamed's: the name, at the user's version.
	Customer *Customer `json:"customer,omitempty" dynamodbav:"customer,omitempty"`
}

// Placed is the data of an OrderPlaced event.
type Placed struct {
	UserID string `json:"userId" dynamodbav:"userId"`
	// CustomerName and CustomerVersion are the customer as the users API
	// answered when the order was placed.
	CustomerName    string      `json:"customerName" dynamodbav:"customerName,omitempty"`
	CustomerVersion int64       `json:"customerVersion" dynamodbav:"customerVersion,omitempty"`
	Items           []Line      `json:"items" dynamodbav:"items"`
	Total           money.Money `json:"total" dynamodbav:"total"`
	PaymentToken    string      `json:"-" dynamodbav:"paymentToken"`
}

// ErrInvalidEvent is an event that cannot follow the ones before it: a gap
// or repeat in the versions, or a change the order's status forbids.
var ErrInvalidEvent = errors.New("orders: event does not apply")

// Rebuild folds an order's events, oldest first, into its state: exactly
// the order its state item holds, since the store computes that item with
// the same fold (Apply) in the transaction that appends the event.
func Rebuild(events []Event) (Order, error) {
	if len(events) == 0 {
		return Order{}, fmt.Errorf("%w: no events", ErrInvalidEvent)
	}
	var o Order
	for _, e := range events {
		var err error
		if o, err = Apply(o, e); err != nil {
			return Order{}, err
		}
	}
	return o, nil
}

// Apply returns o changed by e, or ErrInvalidEvent when e cannot follow o
// (the zero Order for OrderPlaced). o is not modified: the result shares no
// slice with it.
func Apply(o Order, e Event) (Order, error) {
	bad := func(why string) (Order, error) {
		return Order{}, fmt.Errorf("%w: %s v%d on order %q v%d (%s): %s", ErrInvalidEvent, e.Type, e.Version, o.ID, o.Version, o.Status, why)
	}
	if e.Version != o.Version+1 {
		return bad("versions must follow one another")
	}
	if e.Type != EventOrderPlaced && e.OrderID != o.ID {
		return bad("the event belongs to another order")
	}
	at := e.At.UTC()
	next := o
	next.Items = slices.Clone(o.Items)
	next.History = slices.Clone(o.History)
	switch e.Type {
	case EventOrderPlaced:
		if o.Version != 0 || e.Placed == nil {
			return bad("an order is placed once, first, with its data")
		}
		next = Order{
			ID: e.OrderID, UserID: e.Placed.UserID, Status: StatusPending,
			CustomerName: e.Placed.CustomerName, CustomerVersion: e.Placed.CustomerVersion,
			Items: slices.Clone(e.Placed.Items), Total: e.Placed.Total, PaymentToken: e.Placed.PaymentToken,
			History:   []Change{{Status: StatusPending, At: at}},
			CreatedAt: at,
		}
	case EventCancelRequested:
		if o.Status == StatusCancelled || o.CancelRequested {
			return bad("only a live order, once")
		}
		next.CancelRequested = true
	case EventOrderConfirmed:
		if o.Status != StatusPending || o.CancelRequested {
			return bad("only a PENDING order nobody asked to cancel")
		}
		next.Status = StatusConfirmed
		next.History = append(next.History, Change{Status: StatusConfirmed, At: at})
	case EventOrderCancelled:
		if o.Status == StatusCancelled || !e.Reason.Valid() {
			return bad("only a live order, with one of the reasons")
		}
		next.Status, next.CancelReason = StatusCancelled, e.Reason
		next.History = append(next.History, Change{Status: StatusCancelled, At: at, Reason: e.Reason})
	case EventCustomerRenamed:
		if o.Status == StatusCancelled || e.Customer == nil || e.Customer.Name == "" || e.Customer.Version <= o.CustomerVersion {
			return bad("only a live order, by a newer version of its customer")
		}
		next.CustomerName, next.CustomerVersion = e.Customer.Name, e.Customer.Version
	default:
		return bad("unknown event type")
	}
	next.Version, next.UpdatedAt = e.Version, at
	return next, nil
}
