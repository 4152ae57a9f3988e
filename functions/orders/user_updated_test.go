package orders

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	catalog "github.com/shop-serverless/shop/events"
	"github.com/shop-serverless/shop/events/explain"
	"github.com/shop-serverless/shop/shared/money"
	"github.com/shop-serverless/shop/shared/runtime/consumer/inbound"
)

// placeFor places an order for userID as the users API answered at version.
func placeFor(t *testing.T, st *Store, userID, name string, version int64) Order {
	t.Helper()
	o, err := st.Place(context.Background(), uuid.NewString(), Placed{UserID: userID, CustomerName: name, CustomerVersion: version, PaymentToken: "tok_visa",
		Items: []Line{{ProductID: pA, SKU: "A", Name: "Ay", Quantity: 1, UnitPrice: money.Money{Amount: 999, Currency: "EUR"}}},
		Total: money.Money{Amount: 999, Currency: "EUR"}})
	if err != nil {
		t.Fatalf("place: %v", err)
	}
	return o
}

// userUpdatedEvent is a user.updated event, checked against its schema, as
// the consumer hands it on.
func userUpdatedEvent(t *testing.T, userID, name string, version int64) inbound.Event {
	t.Helper()
	raw, err := catalog.Example(TypeUserUpdated)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	_ = json.Unmarshal(raw, &doc)
	doc["id"], doc["subject"] = uuid.NewString(), userID
	doc["data"] = map[string]any{"userId": userID, "name": name, "marketingEmails": true, "version": version}
	structured, _ := json.Marshal(doc)
	if err := explain.ValidateEvent(structured); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(doc["data"])
	return inbound.Event{ID: doc["id"].(string), Source: "shop.users", Type: TypeUserUpdated, Subject: userID, Time: time.Now(), Data: data}
}

func TestUserUpdatedRenamesTheUsersLiveOrders(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	handle := UserUpdated(st)
	user, other := uuid.NewString(), uuid.NewString()
	pending := placeFor(t, st, user, "Ada", 2)
	confirmed := placeFor(t, st, user, "Ada", 2)
	if _, err := MarkConfirmed(st, nil)(ctx, StepIn{OrderID: confirmed.ID}); err != nil {
		t.Fatal(err)
	}
	cancelled := placeFor(t, st, user, "Ada", 2)
	if _, err := MarkCancelled(st)(ctx, CancelStepIn{OrderID: cancelled.ID, Reason: ReasonOutOfStock}); err != nil {
		t.Fatal(err)
	}
	placedLater := placeFor(t, st, user, "Ada Lovelace-King", 5) // placed after a newer update than the event's
	othersOrder := placeFor(t, st, other, "Bob", 2)

	want := func(o Order, name string, version, events int64) {
		t.Helper()
		got := wantRebuilt(t, st, o.ID) // the events still rebuild the state item
		if got.CustomerName != name || got.CustomerVersion != version || got.Version != events {
			t.Errorf("order %s: customer %q v%d after %d events, want %q v%d after %d", o.ID, got.CustomerName, got.CustomerVersion, got.Version, name, version, events)
		}
	}
	if err := handle(ctx, userUpdatedEvent(t, user, "Ada King", 3)); err != nil {
		t.Fatal(err)
	}
	want(pending, "Ada King", 3, 2)
	want(confirmed, "Ada King", 3, 3)
	want(cancelled, "Ada", 2, 2)
	want(placedLater, "Ada Lovelace-King", 5, 1)
	want(othersOrder, "Bob", 2, 1)

	// The same event again, and an older one arriving late: nothing.
	for _, e := range []inbound.Event{userUpdatedEvent(t, user, "Ada King", 3), userUpdatedEvent(t, user, "Ada L.", 2)} {
		if err := handle(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	want(pending, "Ada King", 3, 2)
	want(confirmed, "Ada King", 3, 3)

	// A newer version with the same name (another field changed) is
	// recorded, so that an older rename arriving after it loses.
	if err := handle(ctx, userUpdatedEvent(t, user, "Ada King", 4)); err != nil {
		t.Fatal(err)
	}
	want(pending, "Ada King", 4, 3)
	if err := handle(ctx, userUpdatedEvent(t, user, "Ada L.", 3)); err != nil { // below the recorded 4
		t.Fatal(err)
	}
	want(pending, "Ada King", 4, 3)

	// The API shows the new name.
	got, err := st.Get(ctx, pending.ID)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(got)
	var shown map[string]any
	_ = json.Unmarshal(body, &shown)
	if shown["customerName"] != "Ada King" || shown["customerVersion"] != nil {
		t.Errorf("order as the API shows it: %s", body)
	}
}

func TestRenameRacesTheSaga(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	user := uuid.NewString()
	var orders []Order
	for range 4 {
		orders = append(orders, placeFor(t, st, user, "Ada", 1))
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(orders)+1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := st.RenameCustomer(ctx, user, Customer{Name: "Ada King", Version: 2})
		errs <- err
	}()
	for _, o := range orders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := MarkConfirmed(st, nil)(ctx, StepIn{OrderID: o.ID})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range orders {
		got := wantRebuilt(t, st, o.ID)
		if got.Status != StatusConfirmed || got.CustomerName != "Ada King" || got.CustomerVersion != 2 || got.Version != 3 {
			t.Errorf("order %s: %s %q v%d after %d events, want CONFIRMED and renamed after 3", o.ID, got.Status, got.CustomerName, got.CustomerVersion, got.Version)
		}
	}
}

func TestUserUpdatedRefusesForGood(t *testing.T) {
	st := newTestStore(t)
	for _, e := range []inbound.Event{
		{Type: TypeUserUpdated, Data: []byte(`{"version":"two"}`)},
		{Type: "shop.user.created.v1", Data: []byte(`{"userId":"u","name":"Ada","marketingEmails":true}`)},
	} {
		if err := UserUpdated(st)(context.Background(), e); !inbound.IsPermanent(err) {
			t.Errorf("%s %s: err %v, want permanent", e.Type, e.Data, err)
		}
	}
}
