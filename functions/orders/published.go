package orders

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/eventbus/envelope"
	"github.com/shop-serverless/shop/shared/money"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/outbox"
)

// The events the orders service publishes (service.yaml publishes), each
// written to the outbox in the transaction that appends the order's event
// it announces (Store.append).
const (
	TypeOrderCreated   = "shop.order.created.v1"   // OrderPlaced
	TypeOrderConfirmed = "shop.order.confirmed.v1" // OrderConfirmed
	TypeOrderCancelled = "shop.order.cancelled.v1" // OrderCancelled
)

// Service is this service's name, which is its events' source
// (naming.EventSource).
const Service = "orders"

type createdData struct {
	OrderID      string      `json:"orderId"`
	UserID       string      `json:"userId"`
	CustomerName string      `json:"customerName"`
	Items        []Line      `json:"items"`
	Total        money.Money `json:"total"`
}

type confirmedData struct {
	OrderID string      `json:"orderId"`
	UserID  string      `json:"userId"`
	Total   money.Money `json:"total"`
}

type cancelledData struct {
	OrderID string      `json:"orderId"`
	UserID  string      `json:"userId"`
	Reason  Reason      `json:"reason"`
	Total   money.Money `json:"total"`
}

// announcement is the published event of e, which left the order o: its
// type and data, or "" for an event no one outside hears of
// (CancelRequested, CustomerRenamed).
func announcement(o Order, e Event) (string, any) {
	switch e.Type {
	case EventOrderPlaced:
		return TypeOrderCreated, createdData{OrderID: o.ID, UserID: o.UserID, CustomerName: o.CustomerName, Items: o.Items, Total: o.Total}
	case EventOrderConfirmed:
		return TypeOrderConfirmed, confirmedData{OrderID: o.ID, UserID: o.UserID, Total: o.Total}
	case EventOrderCancelled:
		return TypeOrderCancelled, cancelledData{OrderID: o.ID, UserID: o.UserID, Reason: e.Reason, Total: o.Total}
	}
	return "", nil
}

// announce returns the outbox item of the event e that left the order o,
// for the transaction that appends e; none when e is not published. Each
// type is published once per order (its id is the type's and the order's):
// an order is placed, confirmed and cancelled once at most.
func (s *Store) announce(ctx context.Context, o Order, e Event) ([]types.TransactWriteItem, error) {
	typ, data := announcement(o, e)
	if typ == "" {
		return nil, nil
	}
	ev, err := envelope.New(ctx, envelope.Spec{
		Type: typ, Source: naming.EventSource(Service), Subject: o.ID,
		ID: envelope.ID(typ, o.ID), Time: e.At, Data: data,
	})
	if err != nil {
		return nil, fmt.Errorf("event of %s on order %s: %w", e.Type, o.ID, err)
	}
	item, err := outbox.Item(s.table, ev)
	if err != nil {
		return nil, err
	}
	return []types.TransactWriteItem{item}, nil
}
