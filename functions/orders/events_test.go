package orders

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/money"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 123456789, time.UTC)

func placedEvent(id string) Event {
	return Event{OrderID: id, Version: 1, Type: EventOrderPlaced, At: t0, Placed: &Placed{
		UserID: "u1", CustomerName: "Ada", CustomerVersion: 2, PaymentToken: "tok_visa",
		Items: []Line{{ProductID: "p1", SKU: "SKU-1", Name: "One", Quantity: 2, UnitPrice: money.Money{Amount: 999, Currency: "EUR"}}},
		Total: money.Money{Amount: 1998, Currency: "EUR"},
	}}
}

func next(e Event, v int64, typ EventType, reason Reason) Event {
	return Event{OrderID: e.OrderID, Version: v, Type: typ, At: t0.Add(time.Duration(v) * time.Second), Reason: reason}
}

// renamed is CustomerRenamed as version v of the order, to name at the
// user's version uv.
func renamed(e Event, v int64, name string, uv int64) Event {
	r := next(e, v, EventCustomerRenamed, "")
	r.Customer = &Customer{Name: name, Version: uv}
	return r
}

func TestRebuild(t *testing.T) {
	placed := placedEvent("o1")
	at := func(v int64) time.Time { return t0.Add(time.Duration(v) * time.Second) }
	for _, tt := range []struct {
		name   string
		events []Event
		want   func(o *Order) // changes to the placed order
	}{
		{"placed", []Event{placed}, func(*Order) {}},
		{"confirmed", []Event{placed, next(placed, 2, EventOrderConfirmed, "")}, func(o *Order) {
			o.Status, o.Version, o.UpdatedAt = StatusConfirmed, 2, at(2)
			o.History = append(o.History, Change{Status: StatusConfirmed, At: at(2)})
		}},
		{"cancel requested, then compensated", []Event{placed, next(placed, 2, EventCancelRequested, ""), next(placed, 3, EventOrderCancelled, ReasonCancelledByUser)}, func(o *Order) {
			o.Status, o.CancelRequested, o.CancelReason, o.Version, o.UpdatedAt = StatusCancelled, true, ReasonCancelledByUser, 3, at(3)
			o.History = append(o.History, Change{Status: StatusCancelled, At: at(3), Reason: ReasonCancelledByUser})
		}},
		{"cancelled after confirmation", []Event{placed, next(placed, 2, EventOrderConfirmed, ""), next(placed, 3, EventCancelRequested, ""), next(placed, 4, EventOrderCancelled, ReasonCancelledByUser)}, func(o *Order) {
			o.Status, o.CancelRequested, o.CancelReason, o.Version, o.UpdatedAt = StatusCancelled, true, ReasonCancelledByUser, 4, at(4)
			o.History = append(o.History, Change{Status: StatusConfirmed, At: at(2)}, Change{Status: StatusCancelled, At: at(4), Reason: ReasonCancelledByUser})
		}},
		{"customer renamed, confirmed", []Event{placed, renamed(placed, 2, "Ada King", 3), next(placed, 3, EventOrderConfirmed, "")}, func(o *Order) {
			o.CustomerName, o.CustomerVersion, o.Status, o.Version, o.UpdatedAt = "Ada King", 3, StatusConfirmed, 3, at(3)
			o.History = append(o.History, Change{Status: StatusConfirmed, At: at(3)})
		}},
		{"renamed after confirmation", []Event{placed, next(placed, 2, EventOrderConfirmed, ""), renamed(placed, 3, "Ada King", 7)}, func(o *Order) {
			o.CustomerName, o.CustomerVersion, o.Status, o.Version, o.UpdatedAt = "Ada King", 7, StatusConfirmed, 3, at(3)
			o.History = append(o.History, Change{Status: StatusConfirmed, At: at(2)})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := Order{ID: "o1", UserID: "u1", CustomerName: "Ada", CustomerVersion: 2, Status: StatusPending, Items: placed.Placed.Items, Total: placed.Placed.Total,
				PaymentToken: "tok_visa", History: []Change{{Status: StatusPending, At: t0}}, CreatedAt: t0, UpdatedAt: t0, Version: 1}
			tt.want(&want)
			got, err := Rebuild(tt.events)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Rebuild =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestRebuildRefuses(t *testing.T) {
	placed := placedEvent("o1")
	other := placed
	other.OrderID = "o2"
	for name, events := range map[string][]Event{
		"nothing":                  nil,
		"no OrderPlaced first":     {next(placed, 1, EventOrderConfirmed, "")},
		"placed twice":             {placed, {OrderID: "o1", Version: 2, Type: EventOrderPlaced, At: t0, Placed: placed.Placed}},
		"a gap":                    {placed, next(placed, 3, EventOrderConfirmed, "")},
		"a repeat":                 {placed, next(placed, 2, EventOrderConfirmed, ""), next(placed, 2, EventOrderConfirmed, "")},
		"another order's event":    {placed, next(other, 2, EventOrderConfirmed, "")},
		"confirm after cancel ask": {placed, next(placed, 2, EventCancelRequested, ""), next(placed, 3, EventOrderConfirmed, "")},
		"confirm twice":            {placed, next(placed, 2, EventOrderConfirmed, ""), next(placed, 3, EventOrderConfirmed, "")},
		"cancel twice":             {placed, next(placed, 2, EventOrderCancelled, ReasonInternal), next(placed, 3, EventOrderCancelled, ReasonInternal)},
		"ask to cancel twice":      {placed, next(placed, 2, EventCancelRequested, ""), next(placed, 3, EventCancelRequested, "")},
		"no reason":                {placed, next(placed, 2, EventOrderCancelled, "")},
		"unknown reason":           {placed, next(placed, 2, EventOrderCancelled, "BORED")},
		"unknown type":             {placed, next(placed, 2, "OrderShipped", "")},
		"renamed to an older name": {placed, renamed(placed, 2, "Old", 1)},
		"renamed to the same ver":  {placed, renamed(placed, 2, "Same", 2)},
		"renamed without a name":   {placed, renamed(placed, 2, "", 3)},
		"renamed without data":     {placed, next(placed, 2, EventCustomerRenamed, "")},
		"renamed when cancelled":   {placed, next(placed, 2, EventOrderCancelled, ReasonInternal), renamed(placed, 3, "Late", 3)},
	} {
		if _, err := Rebuild(events); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("%s: err = %v, want ErrInvalidEvent", name, err)
		}
	}
}

// Apply never changes the order it is given: a decision that loses a race
// is decided again on a fresh read, never on a half-changed copy.
func TestApplyLeavesItsInputAlone(t *testing.T) {
	o, err := Rebuild([]Event{placedEvent("o1")})
	if err != nil {
		t.Fatal(err)
	}
	before := len(o.History)
	o.History = o.History[:1:1] // no spare capacity to share by accident
	if _, err := Apply(o, next(placedEvent("o1"), 2, EventOrderConfirmed, "")); err != nil {
		t.Fatal(err)
	}
	if len(o.History) != before || o.Status != StatusPending || o.Version != 1 {
		t.Fatalf("Apply changed its input: %+v", o)
	}
}
