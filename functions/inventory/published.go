package inventory

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/shared/eventbus/envelope"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/outbox"
)

// The events the inventory service publishes (service.yaml publishes),
// each written to the outbox in the transaction of the change it announces
// (reservation.go).
const (
	TypeReserved = "shop.inventory.reserved.v1"  // a reservation made
	TypeReleased = "shop.inventory.released.v1"  // a reservation's stock given back
	TypeStockLow = "shop.inventory.stock.low.v1" // a reservation left a product under its threshold
)

// Service is this service's name, which is its events' source
// (naming.EventSource).
const Service = "inventory"

type reservationData struct {
	OrderID string `json:"orderId"`
	Items   []Line `json:"items"`
}

type stockLowData struct {
	ProductID string `json:"productId"`
	SKU       string `json:"sku"`
	Name      string `json:"name"`
	Available int64  `json:"available"`
	Threshold int64  `json:"threshold"`
}

// newEvent builds one of the service's events.
func newEvent(ctx context.Context, typ, subject, id string, data any) (event.Event, error) {
	e, err := envelope.New(ctx, envelope.Spec{Type: typ, Source: naming.EventSource(Service), Subject: subject, ID: id, Data: data})
	if err != nil {
		return event.Event{}, fmt.Errorf("%s about %s: %w", typ, subject, err)
	}
	return e, nil
}

// reservedItem is the outbox item of a reservation: inventory.reserved,
// and inventory.stock.low for each product the reservation leaves under its
// threshold (low: the products, as they will be after it). Each event once
// per order: its id is the type's and the order's (and the product's).
func (s *Store) reservedItem(ctx context.Context, orderID string, lines []Line, low []Product) (types.TransactWriteItem, error) {
	reserved, err := newEvent(ctx, TypeReserved, orderID, envelope.ID(TypeReserved, orderID), reservationData{OrderID: orderID, Items: lines})
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	events := []event.Event{reserved}
	for _, p := range low {
		e, err := newEvent(ctx, TypeStockLow, p.ID, envelope.ID(TypeStockLow, p.ID, orderID),
			stockLowData{ProductID: p.ID, SKU: p.SKU, Name: p.Name, Available: p.Available, Threshold: p.LowStockThreshold})
		if err != nil {
			return types.TransactWriteItem{}, err
		}
		events = append(events, e)
	}
	return outbox.Item(s.table, events...)
}

// releasedItem is the outbox item of a reservation's release:
// inventory.released, once per order.
func (s *Store) releasedItem(ctx context.Context, r Reservation) (types.TransactWriteItem, error) {
	e, err := newEvent(ctx, TypeReleased, r.OrderID, envelope.ID(TypeReleased, r.OrderID), reservationData{OrderID: r.OrderID, Items: r.Lines})
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return outbox.Item(s.table, e)
}
