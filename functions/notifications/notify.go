package notifications

import (
	"context"
	"fmt"

	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/money"
	"github.com/shop-serverless/shop/shared/runtime/consumer/inbound"
)

// The event types notifications-notify consumes (its function.yaml lists
// them; their data is described by events/<type>.schema.json).
const (
	TypeUserCreated       = "shop.user.created.v1"
	TypeUserUpdated       = "shop.user.updated.v1"
	TypeOrderCreated      = "shop.order.created.v1"
	TypeOrderConfirmed    = "shop.order.confirmed.v1"
	TypeOrderCancelled    = "shop.order.cancelled.v1"
	TypePaymentDeclined   = "shop.payment.declined.v1"
	TypePaymentRefunded   = "shop.payment.refunded.v1"
	TypeInventoryLowStock = "shop.inventory.stock.low.v1"
)

// The data of the events, as far as notifications reads it.
type (
	userData struct {
		UserID          string `json:"userId"`
		MarketingEmails bool   `json:"marketingEmails"`
		Version         int64  `json:"version"` // user.updated; user.created is version 1
	}
	orderData struct {
		OrderID string      `json:"orderId"`
		UserID  string      `json:"userId"`
		Total   money.Money `json:"total"`
		Reason  string      `json:"reason"` // order.cancelled
		Items   []struct {
			ProductID string `json:"productId"`
		} `json:"items"` // order.created
	}
	paymentData struct {
		OrderID string      `json:"orderId"`
		UserID  string      `json:"userId"`
		Amount  money.Money `json:"amount"`
	}
	lowStockData struct {
		ProductID string `json:"productId"`
		SKU       string `json:"sku"`
		Name      string `json:"name"`
		Available int64  `json:"available"`
	}
)

// cancelReasons says why an order was cancelled, in the words of its
// notification.
var cancelReasons = map[string]string{
	"OUT_OF_STOCK":        "an item is out of stock",
	"PAYMENT_DECLINED":    "the payment was declined",
	"PAYMENT_UNAVAILABLE": "the payment could not be taken",
	"CANCELLED_BY_USER":   "you cancelled it",
	"INTERNAL":            "of a problem on our side",
}

// Notify is the consumer notifications-notify. It keeps the projections the
// notices need and stores one notification per affected user, naming the
// order or product:
//
//   - user.created, user.updated: the user's marketingEmails (the newest
//     user version wins); no notice;
//   - order.created: the order is PENDING with its products; a notice;
//   - order.confirmed, order.cancelled: the order is PENDING no more; a
//     notice;
//   - payment.declined, payment.refunded: a notice;
//   - inventory.stock.low: a notice to every user with a PENDING order of
//     the product, but those whose marketingEmails is false. A user the
//     service has no preference for (no user event seen) is notified.
//
// Every write is idempotent on the event (see Store), so a redelivery the
// consumer's claim did not stop changes nothing.
func Notify(st *Store) func(context.Context, inbound.Event) error {
	return func(ctx context.Context, e inbound.Event) error {
		switch e.Type {
		case TypeUserCreated, TypeUserUpdated:
			var d userData
			if err := e.DataAs(&d); err != nil {
				return inbound.Permanent(fmt.Errorf("decode %s: %w", e.Type, err))
			}
			if e.Type == TypeUserCreated {
				d.Version = 1
			}
			return st.SetPreference(ctx, d.UserID, Preference{MarketingEmails: d.MarketingEmails, Version: d.Version})
		case TypeOrderCreated, TypeOrderConfirmed, TypeOrderCancelled:
			return onOrder(ctx, st, e)
		case TypePaymentDeclined, TypePaymentRefunded:
			var d paymentData
			if err := e.DataAs(&d); err != nil {
				return inbound.Permanent(fmt.Errorf("decode %s: %w", e.Type, err))
			}
			msg := fmt.Sprintf("The payment of %s for your order %s was declined.", d.Amount, d.OrderID)
			if e.Type == TypePaymentRefunded {
				msg = fmt.Sprintf("%s for your order %s was refunded.", d.Amount, d.OrderID)
			}
			return st.Add(ctx, note(e, d.UserID, msg, d.OrderID, ""))
		case TypeInventoryLowStock:
			return onLowStock(ctx, st, e)
		default:
			// The rule lets only the types above through; anything else was
			// put in the queue by hand and will never be understood.
			return inbound.Permanent(fmt.Errorf("notifications-notify does not consume %s", e.Type))
		}
	}
}

func onOrder(ctx context.Context, st *Store, e inbound.Event) error {
	var d orderData
	if err := e.DataAs(&d); err != nil {
		return inbound.Permanent(fmt.Errorf("decode %s: %w", e.Type, err))
	}
	var msg string
	switch e.Type {
	case TypeOrderCreated:
		products := make([]string, len(d.Items))
		for i, it := range d.Items {
			products[i] = it.ProductID
		}
		if err := st.OpenOrder(ctx, d.OrderID, d.UserID, products); err != nil {
			return err
		}
		msg = fmt.Sprintf("We received your order %s for %s.", d.OrderID, d.Total)
	case TypeOrderConfirmed:
		if err := st.CloseOrder(ctx, d.OrderID, d.UserID); err != nil {
			return err
		}
		msg = fmt.Sprintf("Your order %s for %s is confirmed.", d.OrderID, d.Total)
	default:
		if err := st.CloseOrder(ctx, d.OrderID, d.UserID); err != nil {
			return err
		}
		why, ok := cancelReasons[d.Reason]
		if !ok {
			why = "of " + d.Reason
		}
		msg = fmt.Sprintf("Your order %s was cancelled because %s.", d.OrderID, why)
	}
	return st.Add(ctx, note(e, d.UserID, msg, d.OrderID, ""))
}

func onLowStock(ctx context.Context, st *Store, e inbound.Event) error {
	var d lowStockData
	if err := e.DataAs(&d); err != nil {
		return inbound.Permanent(fmt.Errorf("decode %s: %w", e.Type, err))
	}
	users, err := st.PendingBuyers(ctx, d.ProductID)
	if err != nil {
		return err
	}
	prefs, err := st.Preferences(ctx, users)
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("%s (%s), which you have ordered, is running low: %d left.", d.Name, d.SKU, d.Available)
	var notes []Notification
	optedOut := 0
	for _, u := range users {
		if p, known := prefs[u]; known && !p.MarketingEmails {
			optedOut++
			continue
		}
		notes = append(notes, note(e, u, msg, "", d.ProductID))
	}
	log.FromContext(ctx).InfoContext(ctx, "notifications: low stock", "productId", d.ProductID,
		"pendingBuyers", len(users), "notified", len(notes), "optedOut", optedOut)
	return st.Add(ctx, notes...)
}

// note is the notification of e to userID.
func note(e inbound.Event, userID, message, orderID, productID string) Notification {
	return Notification{ID: e.ID, UserID: userID, Type: e.Type, OrderID: orderID, ProductID: productID, Message: message, CreatedAt: e.Time.UTC()}
}
