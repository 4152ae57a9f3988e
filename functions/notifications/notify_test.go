package notifications

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	catalog "github.com/shop-serverless/shop/events"
	"github.com/shop-serverless/shop/events/explain"
	"github.com/shop-serverless/shop/shared/runtime/consumer/inbound"
	"github.com/shop-serverless/shop/shared/store/storetest"
)

func newTestStore(t *testing.T) *Store {
	t.Helper()
	db, table := storetest.Table(t, "notifications")
	return NewStore(db, table)
}

// event is the catalog's example of eventType with the given id, time and
// data fields changed, checked against its schema (the consumer hands
// Notify only such events), as Notify receives it.
func event(t *testing.T, eventType, id string, at time.Time, data map[string]any) inbound.Event {
	t.Helper()
	raw, err := catalog.Example(eventType)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	doc["id"], doc["time"] = id, at.UTC().Format(time.RFC3339Nano)
	for k, v := range data {
		doc["data"].(map[string]any)[k] = v
	}
	structured, _ := json.Marshal(doc)
	if err := explain.ValidateEvent(structured); err != nil {
		t.Fatalf("test event: %v", err)
	}
	d, _ := json.Marshal(doc["data"])
	return inbound.Event{ID: id, Source: doc["source"].(string), Type: eventType, Subject: doc["subject"].(string), Time: at, Data: d}
}

func orderEvent(t *testing.T, eventType, orderID, userID string, at time.Time, products ...string) inbound.Event {
	t.Helper()
	data := map[string]any{"orderId": orderID, "userId": userID}
	if eventType == TypeOrderCreated {
		var items []any
		for _, p := range products {
			items = append(items, map[string]any{"productId": p, "sku": "SKU-" + p[:4], "name": "Thing", "quantity": 1, "unitPrice": map[string]any{"amount": 1250, "currency": "EUR"}})
		}
		data["items"] = items
	}
	return event(t, eventType, uuid.NewString(), at, data)
}

func lowStock(t *testing.T, productID string, at time.Time) inbound.Event {
	t.Helper()
	return event(t, TypeInventoryLowStock, uuid.NewString(), at, map[string]any{"productId": productID, "sku": "MUG-01", "name": "Mug", "available": 3})
}

func userEvent(t *testing.T, eventType, userID string, marketing bool, version int) inbound.Event {
	t.Helper()
	data := map[string]any{"userId": userID, "marketingEmails": marketing}
	if eventType == TypeUserUpdated {
		data["version"] = version
	}
	return event(t, eventType, uuid.NewString(), time.Now(), data)
}

// all lists every notification of user, newest first.
func all(t *testing.T, st *Store, userID string) []Notification {
	t.Helper()
	var out []Notification
	cursor := ""
	for {
		page, next, err := st.List(context.Background(), userID, 100, cursor)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		cursor = next
	}
}

func TestNotifyOrderLifecycle(t *testing.T) {
	st := newTestStore(t)
	notify := Notify(st)
	ctx := context.Background()
	user, order, product := uuid.NewString(), uuid.NewString(), uuid.NewString()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	placed := orderEvent(t, TypeOrderCreated, order, user, t0, product)
	events := []inbound.Event{
		placed,
		orderEvent(t, TypeOrderConfirmed, order, user, t0.Add(time.Second)),
		event(t, TypePaymentRefunded, uuid.NewString(), t0.Add(2*time.Second), map[string]any{"orderId": order, "userId": user}),
		orderEvent(t, TypeOrderCancelled, order, user, t0.Add(3*time.Second)),
		event(t, TypePaymentDeclined, uuid.NewString(), t0.Add(4*time.Second), map[string]any{"orderId": order, "userId": user}),
	}
	for _, e := range events {
		if err := notify(ctx, e); err != nil {
			t.Fatalf("%s: %v", e.Type, err)
		}
	}
	// Every event delivered again: nothing new.
	for _, e := range events {
		if err := notify(ctx, e); err != nil {
			t.Fatalf("%s again: %v", e.Type, err)
		}
	}
	got := all(t, st, user)
	want := []struct{ typ, message string }{
		{TypePaymentDeclined, "The payment of 25.00 EUR for your order " + order + " was declined."},
		{TypeOrderCancelled, "Your order " + order + " was cancelled because the payment was declined."},
		{TypePaymentRefunded, "25.00 EUR for your order " + order + " was refunded."},
		{TypeOrderConfirmed, "Your order " + order + " for 25.00 EUR is confirmed."},
		{TypeOrderCreated, "We received your order " + order + " for 25.00 EUR."},
	}
	if len(got) != len(want) {
		t.Fatalf("%d notifications, want %d (one per event, newest first): %+v", len(got), len(want), got)
	}
	for i, w := range want {
		n := got[i]
		if n.Type != w.typ || n.Message != w.message || n.OrderID != order || n.ProductID != "" || n.ID != events[len(events)-1-i].ID ||
			!n.CreatedAt.Equal(t0.Add(time.Duration(len(events)-1-i)*time.Second)) {
			t.Errorf("notification %d: %+v, want %s %q", i, n, w.typ, w.message)
		}
	}
	if other := all(t, st, uuid.NewString()); len(other) != 0 {
		t.Errorf("another user has %d notifications", len(other))
	}
}

func TestNotifyLowStockReachesPendingBuyersWhoDidNotOptOut(t *testing.T) {
	st := newTestStore(t)
	notify := Notify(st)
	ctx := context.Background()
	product, other := uuid.NewString(), uuid.NewString()
	fan, optedOut, unknown, confirmed, elsewhere := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	at := time.Now().UTC()
	must := func(e inbound.Event) {
		t.Helper()
		if err := notify(ctx, e); err != nil {
			t.Fatalf("%s: %v", e.Type, err)
		}
	}
	// Preferences, some out of order: the newest user version wins.
	must(userEvent(t, TypeUserUpdated, fan, true, 3))
	must(userEvent(t, TypeUserUpdated, fan, false, 2)) // late and older: ignored
	must(userEvent(t, TypeUserCreated, fan, false, 1)) // later still: ignored
	must(userEvent(t, TypeUserCreated, optedOut, true, 1))
	must(userEvent(t, TypeUserUpdated, optedOut, false, 2))
	must(userEvent(t, TypeUserCreated, confirmed, true, 1))
	must(userEvent(t, TypeUserCreated, elsewhere, true, 1))
	// Pending orders of the product: fan (two orders), optedOut, unknown
	// (no user event seen); confirmed's order is confirmed, elsewhere's is
	// of another product.
	for _, u := range []string{fan, fan, optedOut, unknown} {
		must(orderEvent(t, TypeOrderCreated, uuid.NewString(), u, at, product, other))
	}
	done := uuid.NewString()
	must(orderEvent(t, TypeOrderCreated, done, confirmed, at, product))
	must(orderEvent(t, TypeOrderConfirmed, done, confirmed, at))
	must(orderEvent(t, TypeOrderCreated, uuid.NewString(), elsewhere, at, other))

	low := lowStock(t, product, at.Add(time.Minute))
	must(low)
	must(low) // a redelivery: still one notice each
	for _, tt := range []struct {
		user   string
		notice bool
	}{{fan, true}, {unknown, true}, {optedOut, false}, {confirmed, false}, {elsewhere, false}} {
		var lows []Notification
		for _, n := range all(t, st, tt.user) {
			if n.Type == TypeInventoryLowStock {
				lows = append(lows, n)
			}
		}
		switch {
		case !tt.notice && len(lows) != 0:
			t.Errorf("user %s got %d low-stock notices, want none", tt.user, len(lows))
		case tt.notice && len(lows) != 1:
			t.Errorf("user %s got %d low-stock notices, want one", tt.user, len(lows))
		case tt.notice && (lows[0].ProductID != product || lows[0].OrderID != "" || lows[0].ID != low.ID ||
			lows[0].Message != "Mug (MUG-01), which you have ordered, is running low: 3 left."):
			t.Errorf("user %s: %+v", tt.user, lows[0])
		}
	}
}

func TestOrdersOpenAndCloseInAnyOrder(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	p1, p2 := uuid.NewString(), uuid.NewString()
	u1, u2, u3 := uuid.NewString(), uuid.NewString(), uuid.NewString()
	o1, o2, o3 := uuid.NewString(), uuid.NewString(), uuid.NewString()
	buyers := func(p string) []string {
		t.Helper()
		got, err := st.PendingBuyers(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	for _, step := range []func() error{
		func() error { return st.OpenOrder(ctx, o1, u1, []string{p1, p2, p1}) },
		func() error { return st.OpenOrder(ctx, o1, u1, []string{p1, p2}) }, // redelivered
		func() error { return st.OpenOrder(ctx, o2, u2, []string{p1}) },
		func() error { return st.CloseOrder(ctx, o3, u3) }, // its close arrives first
		func() error { return st.OpenOrder(ctx, o3, u3, []string{p1}) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if got := buyers(p1); !slices.Equal(got, sorted(u1, u2)) {
		t.Fatalf("pending buyers of p1 %v, want %v (o3 closed before it opened)", got, sorted(u1, u2))
	}
	if err := st.CloseOrder(ctx, o1, u1); err != nil {
		t.Fatal(err)
	}
	if err := st.CloseOrder(ctx, o1, u1); err != nil { // confirmed, then cancelled
		t.Fatal(err)
	}
	if got := buyers(p1); !slices.Equal(got, []string{u2}) {
		t.Fatalf("after closing o1: %v, want [u2]", got)
	}
	if got := buyers(p2); len(got) != 0 {
		t.Fatalf("after closing o1, p2 still has %v", got)
	}
}

// An open and a close of one order racing: whoever wins, the order ends
// closed with no pending entry left.
func TestOpenAndCloseRacing(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	product := uuid.NewString()
	for range 5 {
		order, user := uuid.NewString(), uuid.NewString()
		errs := make(chan error, 2)
		go func() { errs <- st.OpenOrder(ctx, order, user, []string{product}) }()
		go func() { errs <- st.CloseOrder(ctx, order, user) }()
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
	if got, err := st.PendingBuyers(ctx, product); err != nil || len(got) != 0 {
		t.Fatalf("pending buyers %v (%v), want none: every order closed", got, err)
	}
}

func TestNotifyRefusesWhatItDoesNotConsume(t *testing.T) {
	st := newTestStore(t)
	e := event(t, "shop.payment.charged.v1", uuid.NewString(), time.Now(), nil)
	if err := Notify(st)(context.Background(), e); !inbound.IsPermanent(err) || !strings.Contains(err.Error(), "does not consume") {
		t.Fatalf("err %v, want a permanent refusal", err)
	}
}

func TestNotifyConsumesWhatItsManifestSays(t *testing.T) {
	// notify/function.yaml's types, which the rule delivers, are the cases Notify handles.
	want := []string{TypeUserCreated, TypeUserUpdated, TypeOrderCreated, TypeOrderConfirmed, TypeOrderCancelled,
		TypePaymentDeclined, TypePaymentRefunded, TypeInventoryLowStock}
	got := manifestTypes(t, "notifications-notify")
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("function.yaml consumes %v, Notify handles %v", got, want)
	}
}
