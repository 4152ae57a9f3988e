package orders

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/eventbus/envelope"
	"github.com/shop-serverless/shop/shared/faults"
	"github.com/shop-serverless/shop/shared/money"
	"github.com/shop-serverless/shop/shared/outbox/outboxtest"
	"github.com/shop-serverless/shop/shared/store"
	"github.com/shop-serverless/shop/shared/store/storetest"
)

func newTestStore(t *testing.T) *Store {
	t.Helper()
	db, table := storetest.Table(t, "orders")
	return NewStore(db, table)
}

// outboxOf reads st's outbox (every event checked against the catalog).
func outboxOf(t *testing.T, st *Store) []outboxtest.Item {
	t.Helper()
	return outboxtest.Read(t, st.db.(*dynamodb.Client), st.table)
}

// announced returns the published events of order id, by type: each type
// at most once (a second would fail the test).
func announced(t *testing.T, st *Store, id string) map[string]event.Event {
	t.Helper()
	out := map[string]event.Event{}
	for _, it := range outboxOf(t, st) {
		for _, e := range it.Events {
			if e.Subject() != id {
				continue
			}
			if _, dup := out[e.Type()]; dup {
				t.Errorf("order %s announced %s twice", id, e.Type())
			}
			if e.ID() != envelope.ID(e.Type(), id) || e.Source() != "shop.orders" {
				t.Errorf("order %s: event %s from %s, want id %s", id, e.ID(), e.Source(), envelope.ID(e.Type(), id))
			}
			out[e.Type()] = e
		}
	}
	return out
}

// wantAnnounced fails unless order id announced exactly types.
func wantAnnounced(t *testing.T, st *Store, id string, types ...string) map[string]event.Event {
	t.Helper()
	got := announced(t, st, id)
	var have []string
	for typ := range got {
		have = append(have, typ)
	}
	sort.Strings(have)
	sort.Strings(types)
	if fmt.Sprint(have) != fmt.Sprint(types) {
		t.Fatalf("order %s announced %v, want %v", id, have, types)
	}
	return got
}

func testPlaced(userID string) Placed {
	return Placed{UserID: userID, CustomerName: "Ada Lovelace", CustomerVersion: 1, PaymentToken: "tok_visa",
		Items: []Line{{ProductID: pA, SKU: "A", Name: "Ay", Quantity: 2, UnitPrice: money.Money{Amount: 999, Currency: "EUR"}}},
		Total: money.Money{Amount: 1998, Currency: "EUR"}}
}

func placeOrder(t *testing.T, st *Store, userID string) Order {
	t.Helper()
	o, err := st.Place(context.Background(), uuid.NewString(), testPlaced(userID))
	if err != nil {
		t.Fatalf("place: %v", err)
	}
	return o
}

// wantRebuilt fails unless the order's events rebuild exactly its state
// item, and returns the order.
func wantRebuilt(t *testing.T, st *Store, id string) Order {
	t.Helper()
	if err := st.Verify(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	o, err := st.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestStorePlaceAndSteps(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	o := placeOrder(t, st, "u1")
	if o.Status != StatusPending || o.Version != 1 || len(o.History) != 1 {
		t.Fatalf("placed: %+v", o)
	}
	if got := wantRebuilt(t, st, o.ID); !reflect.DeepEqual(got, o) {
		t.Fatalf("Get = %+v, Place returned %+v", got, o)
	}
	if _, err := st.Place(ctx, o.ID, testPlaced("u1")); !errors.Is(err, ErrOrderExists) {
		t.Fatalf("placing the same id again: err = %v, want ErrOrderExists", err)
	}
	created := wantAnnounced(t, st, o.ID, TypeOrderCreated)[TypeOrderCreated]
	if !created.Time().Equal(o.CreatedAt) || o.CustomerName != "Ada Lovelace" || o.CustomerVersion != 1 {
		t.Errorf("order.created at %v, order %+v", created.Time(), o)
	}

	confirm := MarkConfirmed(st, nil)
	for range 2 { // a repeat changes nothing and answers the same
		out, err := confirm(ctx, StepIn{OrderID: o.ID})
		if err != nil || out != (StepOut{OrderID: o.ID, Status: StatusConfirmed}) {
			t.Fatalf("mark confirmed = %+v, %v", out, err)
		}
	}
	if got := wantRebuilt(t, st, o.ID); got.Version != 2 {
		t.Fatalf("confirmed twice: version %d, want 2", got.Version)
	}
	confirmed := wantAnnounced(t, st, o.ID, TypeOrderCreated, TypeOrderConfirmed)[TypeOrderConfirmed]
	if d := outboxtest.Data(t, confirmed); d["orderId"] != o.ID || d["userId"] != "u1" || d["total"].(map[string]any)["amount"] != 1998.0 {
		t.Errorf("order.confirmed data %v", d)
	}

	cancel := MarkCancelled(st)
	for _, reason := range []Reason{ReasonCancelledByUser, ReasonInternal} {
		out, err := cancel(ctx, CancelStepIn{OrderID: o.ID, Reason: reason})
		if err != nil || out != (StepOut{OrderID: o.ID, Status: StatusCancelled}) {
			t.Fatalf("mark cancelled (%s) = %+v, %v", reason, out, err)
		}
	}
	got := wantRebuilt(t, st, o.ID)
	if got.Version != 3 || got.CancelReason != ReasonCancelledByUser || len(got.History) != 3 {
		t.Fatalf("cancelled twice: %+v; want version 3, the first reason kept", got)
	}
	cancelled := wantAnnounced(t, st, o.ID, TypeOrderCreated, TypeOrderConfirmed, TypeOrderCancelled)[TypeOrderCancelled]
	if d := outboxtest.Data(t, cancelled); d["reason"] != string(ReasonCancelledByUser) || d["userId"] != "u1" || d["total"].(map[string]any)["currency"] != "EUR" {
		t.Errorf("order.cancelled data %v", d)
	}
	if _, err := confirm(ctx, StepIn{OrderID: o.ID}); !errors.Is(err, ErrOrderCancelled) {
		t.Fatalf("confirming a cancelled order: err = %v, want ErrOrderCancelled", err)
	}

	missing := uuid.NewString()
	if _, err := confirm(ctx, StepIn{OrderID: missing}); !errors.Is(err, ErrOrderNotFound) {
		t.Errorf("confirm an unknown order: err = %v", err)
	}
	if _, err := cancel(ctx, CancelStepIn{OrderID: missing, Reason: ReasonInternal}); !errors.Is(err, ErrOrderNotFound) {
		t.Errorf("cancel an unknown order: err = %v", err)
	}
	if _, err := cancel(ctx, CancelStepIn{OrderID: o.ID, Reason: "BORED"}); !errors.Is(err, ErrInvalidReason) {
		t.Errorf("an unknown reason: err = %v", err)
	}
}

// A customer's cancel and the saga's confirm race for a PENDING order: one
// wins, the other decides again on what the winner wrote, and the events
// still rebuild the state.
func TestStoreConcurrentChanges(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	requestCancel := func(o Order) (*Event, error) {
		if o.Status == StatusCancelled || o.CancelRequested {
			return nil, nil
		}
		return &Event{Type: EventCancelRequested}, nil
	}
	for round := range 4 {
		o := placeOrder(t, st, "u1")
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i%2 == 0 {
					_, errs[i] = MarkConfirmed(st, nil)(ctx, StepIn{OrderID: o.ID})
				} else {
					_, errs[i] = st.change(ctx, o.ID, nil, requestCancel)
				}
			}()
		}
		wg.Wait()
		got := wantRebuilt(t, st, o.ID)
		if !got.CancelRequested {
			t.Fatalf("round %d: the cancel request was lost: %+v", round, got)
		}
		for i, err := range errs {
			switch {
			case i%2 == 1 && err != nil:
				t.Fatalf("round %d: cancel request: %v", round, err)
			case i%2 == 0 && got.Status == StatusConfirmed && err != nil:
				t.Fatalf("round %d: confirmed, but a confirm failed: %v", round, err)
			case i%2 == 0 && got.Status == StatusPending && !errors.Is(err, ErrCancelRequested):
				t.Fatalf("round %d: cancel requested first, but a confirm answered %v", round, err)
			}
		}
		if want := map[Status]int64{StatusConfirmed: 3, StatusPending: 2}[got.Status]; got.Version != want {
			t.Fatalf("round %d: %s at version %d, want %d: an event was applied twice or lost", round, got.Status, got.Version, want)
		}
		if got.Status == StatusConfirmed {
			wantAnnounced(t, st, o.ID, TypeOrderCreated, TypeOrderConfirmed)
		} else {
			wantAnnounced(t, st, o.ID, TypeOrderCreated) // a cancel request is not announced
		}
	}
}

// A transaction DynamoDB applied whose answer was lost is retried by the
// SDK and recognised by its ClientRequestToken: the step succeeds, once.
func TestStoreChangeSurvivesALostResponse(t *testing.T) {
	db, table, loss := storetest.LossyTable(t, "orders")
	st := NewStore(db, table)
	ctx := context.Background()
	o := placeOrder(t, st, "u1")
	loss.Next("TransactWriteItems")
	out, err := MarkConfirmed(st, nil)(ctx, StepIn{OrderID: o.ID})
	if err != nil || out.Status != StatusConfirmed {
		t.Fatalf("mark confirmed = %+v, %v", out, err)
	}
	loss.WantLost(t, "TransactWriteItems", 1)
	if got := wantRebuilt(t, st, o.ID); got.Version != 2 {
		t.Fatalf("version %d, want 2", got.Version)
	}
	wantAnnounced(t, st, o.ID, TypeOrderCreated, TypeOrderConfirmed)
}

func TestStoreListNewestFirst(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st.now = func() time.Time { clock = clock.Add(1500 * time.Millisecond); return clock } // 1.5 s: trims to ".5" and ""
	user, other := uuid.NewString(), uuid.NewString()
	var want []string
	for range 5 {
		want = append([]string{placeOrder(t, st, user).ID}, want...)
	}
	placeOrder(t, st, other)
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		items, next, err := st.ListByUser(ctx, user, 2, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range items {
			got = append(got, o.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("listed %v\nwant newest first %v", got, want)
	}
	_, otherCursor, err := st.ListByUser(ctx, user, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"garbage", otherCursor} {
		if _, _, err := st.ListByUser(ctx, other, 1, c); !errors.Is(err, ErrInvalidCursor) {
			t.Errorf("cursor %q for another user: err = %v, want ErrInvalidCursor", c, err)
		}
	}
}

// A fault keyed to one order fails that order's confirm, as InjectedFault
// and before any write; other orders confirm.
func TestMarkConfirmedInjectedFault(t *testing.T) {
	db, table := storetest.Table(t, "orders")
	st := NewStore(db, table)
	ctx := context.Background()
	t.Setenv(faults.EnvSwitch, "1")
	injector := faults.New(db, table, "orders-mark-confirmed")
	broken, fine := placeOrder(t, st, "u1"), placeOrder(t, st, "u1")
	if err := faults.Set(ctx, db, table, "orders-mark-confirmed", faults.Fault{Mode: faults.ModeError, Key: broken.ID}); err != nil {
		t.Fatal(err)
	}
	_, err := MarkConfirmed(st, injector)(ctx, StepIn{OrderID: broken.ID})
	var typed interface{ ErrorType() string }
	if !errors.As(err, &typed) || typed.ErrorType() != "InjectedFault" {
		t.Fatalf("err = %v, want one typed InjectedFault", err)
	}
	if got := wantRebuilt(t, st, broken.ID); got.Status != StatusPending || got.Version != 1 {
		t.Fatalf("the failed step wrote: %+v", got)
	}
	wantAnnounced(t, st, broken.ID, TypeOrderCreated)
	if out, err := MarkConfirmed(st, injector)(ctx, StepIn{OrderID: fine.ID}); err != nil || out.Status != StatusConfirmed {
		t.Fatalf("another order: %+v, %v", out, err)
	}
}

// Verify notices a state item that its events do not rebuild.
func TestStoreVerifyNoticesADivergedState(t *testing.T) {
	db, table := storetest.Table(t, "orders")
	st := NewStore(db, table)
	ctx := context.Background()
	o := placeOrder(t, st, "u1")
	_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(table), Key: stateKey(o.ID),
		UpdateExpression:          aws.String("SET #s = :s"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": store.S(string(StatusConfirmed))},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Verify(ctx, o.ID); !errors.Is(err, ErrDiverged) {
		t.Fatalf("Verify = %v, want ErrDiverged", err)
	}
}
