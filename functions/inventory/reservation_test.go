package inventory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/store/storetest"
)

// stock is a product's counters, for comparisons.
type stock struct{ available, reserved, sold int64 }

func stockOf(t *testing.T, st *Store, id string) stock {
	t.Helper()
	p, err := st.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return stock{p.Available, p.Reserved, p.Sold}
}

func wantStock(t *testing.T, st *Store, id string, want stock) {
	t.Helper()
	if got := stockOf(t, st, id); got != want {
		t.Fatalf("product %s: stock %+v, want %+v", id, got, want)
	}
}

func TestReserveInValidate(t *testing.T) {
	p1, p2 := uuid.NewString(), uuid.NewString()
	many := make([]Line, MaxLines+1)
	for i := range many {
		many[i] = Line{ProductID: uuid.NewString(), Quantity: 1}
	}
	cases := []struct {
		name string
		in   ReserveIn
		ok   bool
	}{
		{"valid", ReserveIn{OrderID: uuid.NewString(), Items: []Line{{p1, 2}, {p2, MaxLineQuantity}}}, true},
		{"fifty lines", ReserveIn{OrderID: "o-1", Items: many[:MaxLines]}, true},
		{"no order id", ReserveIn{Items: []Line{{p1, 1}}}, false},
		{"order id with #", ReserveIn{OrderID: "a#b", Items: []Line{{p1, 1}}}, false},
		{"no lines", ReserveIn{OrderID: "o-1"}, false},
		{"too many lines", ReserveIn{OrderID: "o-1", Items: many}, false},
		{"product twice", ReserveIn{OrderID: "o-1", Items: []Line{{p1, 1}, {p1, 1}}}, false},
		{"zero quantity", ReserveIn{OrderID: "o-1", Items: []Line{{p1, 0}}}, false},
		{"quantity too large", ReserveIn{OrderID: "o-1", Items: []Line{{p1, MaxLineQuantity + 1}}}, false},
		{"upper-case id", ReserveIn{OrderID: "o-1", Items: []Line{{strings.ToUpper(p1), 1}}}, false},
		{"not an id", ReserveIn{OrderID: "o-1", Items: []Line{{"PRODUCT#x", 1}}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.in.Validate()
			if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidStepInput)) {
				t.Fatalf("Validate = %v, want ok=%v (ErrInvalidStepInput otherwise)", err, c.ok)
			}
		})
	}
}

// reserve runs the step as Step Functions would, twice: the repeat must
// answer the same and change nothing.
func stepTwice[In any](t *testing.T, st *Store, step func(context.Context, In) (StepOut, error), in In, ids ...string) (StepOut, error) {
	t.Helper()
	ctx := context.Background()
	out, err := step(ctx, in)
	before := make([]stock, len(ids))
	for i, id := range ids {
		before[i] = stockOf(t, st, id)
	}
	out2, err2 := step(ctx, in)
	if out2 != out || !errors.Is(err2, err) && fmt.Sprint(err2) != fmt.Sprint(err) {
		t.Fatalf("repeat = %+v, %v; first = %+v, %v", out2, err2, out, err)
	}
	for i, id := range ids {
		wantStock(t, st, id, before[i])
	}
	return out, err
}

func TestReservationLifecycle(t *testing.T) {
	st := newTestStore(t)
	a, b := newProduct(t, st, "LIFE-A", 10), newProduct(t, st, "LIFE-B", 3)
	order := uuid.NewString()
	in := ReserveIn{OrderID: order, Items: []Line{{a.ID, 4}, {b.ID, 3}}}

	out, err := stepTwice(t, st, Reserve(st), in, a.ID, b.ID)
	if err != nil || out != (StepOut{order, StatusReserved}) {
		t.Fatalf("reserve = %+v, %v", out, err)
	}
	wantStock(t, st, a.ID, stock{6, 4, 0})
	wantStock(t, st, b.ID, stock{0, 3, 0})

	// Restock before commit: transient, nothing moves.
	if _, err := Restock(st)(context.Background(), OrderIn{order}); !errors.Is(err, ErrReservationNotCommitted) {
		t.Fatalf("restock before commit: %v", err)
	}

	out, err = stepTwice(t, st, Commit(st), OrderIn{order}, a.ID, b.ID)
	if err != nil || out.Status != StatusCommitted {
		t.Fatalf("commit = %+v, %v", out, err)
	}
	wantStock(t, st, a.ID, stock{6, 0, 4})
	wantStock(t, st, b.ID, stock{0, 0, 3})

	out, err = stepTwice(t, st, Restock(st), OrderIn{order}, a.ID, b.ID)
	if err != nil || out.Status != StatusRestocked {
		t.Fatalf("restock = %+v, %v", out, err)
	}
	wantStock(t, st, a.ID, stock{10, 0, 0})
	wantStock(t, st, b.ID, stock{3, 0, 0})

	// The reserve repeated late still answers as the first one did.
	if out, err := Reserve(st)(context.Background(), in); err != nil || out.Status != StatusReserved {
		t.Fatalf("late reserve repeat = %+v, %v", out, err)
	}
	wantStock(t, st, a.ID, stock{10, 0, 0})
}

func TestReserveAllOrNothing(t *testing.T) {
	st := newTestStore(t)
	a, b := newProduct(t, st, "AON-A", 10), newProduct(t, st, "AON-B", 1)
	order := uuid.NewString()
	in := ReserveIn{OrderID: order, Items: []Line{{a.ID, 2}, {b.ID, 2}}}
	if _, err := stepTwice(t, st, Reserve(st), in, a.ID, b.ID); !errors.Is(err, ErrInsufficientStock) {
		t.Fatalf("reserve beyond stock: %v, want InsufficientStock (twice)", err)
	}
	wantStock(t, st, a.ID, stock{10, 0, 0})
	wantStock(t, st, b.ID, stock{1, 0, 0})
	// The answer is recorded: more stock arriving later does not turn it.
	if _, err := st.AdjustStock(context.Background(), b.ID, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := Reserve(st)(context.Background(), in); !errors.Is(err, ErrInsufficientStock) {
		t.Fatalf("repeat after restocking: %v, want InsufficientStock", err)
	}
	// Release of a failed reservation changes nothing and succeeds.
	if out, err := stepTwice(t, st, Release(st), OrderIn{order}, a.ID, b.ID); err != nil || out.Status != StatusReleased {
		t.Fatalf("release of FAILED = %+v, %v", out, err)
	}
	if _, err := Commit(st)(context.Background(), OrderIn{order}); !errors.Is(err, ErrReservationNotFound) {
		t.Fatalf("commit of FAILED: %v", err)
	}

	// An unknown product fails the whole reservation as ProductNotFound.
	order2 := uuid.NewString()
	in2 := ReserveIn{OrderID: order2, Items: []Line{{a.ID, 1}, {uuid.NewString(), 1}}}
	if _, err := stepTwice(t, st, Reserve(st), in2, a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown product: %v, want ProductNotFound", err)
	}
	wantStock(t, st, a.ID, stock{10, 0, 0})
}

func TestReleaseBeforeReserveLeavesTombstone(t *testing.T) {
	st := newTestStore(t)
	a := newProduct(t, st, "TOMB-A", 5)
	order := uuid.NewString()
	if out, err := stepTwice(t, st, Release(st), OrderIn{order}, a.ID); err != nil || out.Status != StatusReleased {
		t.Fatalf("release first = %+v, %v", out, err)
	}
	if _, err := stepTwice(t, st, Reserve(st), ReserveIn{OrderID: order, Items: []Line{{a.ID, 1}}}, a.ID); !errors.Is(err, ErrReservationReleased) {
		t.Fatalf("late reserve: %v, want ReservationReleased", err)
	}
	wantStock(t, st, a.ID, stock{5, 0, 0})
	for name, step := range map[string]func(context.Context, OrderIn) (StepOut, error){"commit": Commit(st), "restock": Restock(st)} {
		if _, err := step(context.Background(), OrderIn{order}); !errors.Is(err, ErrReservationNotFound) {
			t.Fatalf("%s of a tombstone: %v", name, err)
		}
	}
}

func TestReleaseReturnsStock(t *testing.T) {
	st := newTestStore(t)
	a := newProduct(t, st, "REL-A", 5)
	order := uuid.NewString()
	if _, err := Reserve(st)(context.Background(), ReserveIn{OrderID: order, Items: []Line{{a.ID, 5}}}); err != nil {
		t.Fatal(err)
	}
	wantStock(t, st, a.ID, stock{0, 5, 0})
	if _, err := stepTwice(t, st, Release(st), OrderIn{order}, a.ID); err != nil {
		t.Fatal(err)
	}
	wantStock(t, st, a.ID, stock{5, 0, 0})
	if _, err := Reserve(st)(context.Background(), ReserveIn{OrderID: order, Items: []Line{{a.ID, 5}}}); !errors.Is(err, ErrReservationReleased) {
		t.Fatalf("reserve after release: %v", err)
	}

	// A committed reservation released (a confirm failed beside the commit)
	// gives its sold stock back.
	order2 := uuid.NewString()
	for _, step := range []func(context.Context) error{
		func(ctx context.Context) error {
			_, err := Reserve(st)(ctx, ReserveIn{OrderID: order2, Items: []Line{{a.ID, 2}}})
			return err
		},
		func(ctx context.Context) error { _, err := Commit(st)(ctx, OrderIn{order2}); return err },
		func(ctx context.Context) error { _, err := Release(st)(ctx, OrderIn{order2}); return err },
	} {
		if err := step(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	wantStock(t, st, a.ID, stock{5, 0, 0})
}

// 20 orders race for 5 units: exactly 5 are reserved, the stock never goes
// negative, and every unit is accounted for.
func TestReserveConcurrentNeverOversells(t *testing.T) {
	st := newTestStore(t)
	a := newProduct(t, st, "RACE-A", 5)
	var wg sync.WaitGroup
	var mu sync.Mutex
	reserved, refused := 0, 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := Reserve(st)(context.Background(), ReserveIn{OrderID: uuid.NewString(), Items: []Line{{a.ID, 1}}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				reserved++
			case errors.Is(err, ErrInsufficientStock):
				refused++
			default:
				t.Errorf("reserve: %v", err)
			}
		}()
	}
	wg.Wait()
	if reserved != 5 || refused != 15 {
		t.Fatalf("reserved %d, refused %d; want 5 and 15", reserved, refused)
	}
	wantStock(t, st, a.ID, stock{0, 5, 0})
}

// A reserve and a commit whose responses are lost after the emulator applied
// them: the SDK's retry (same ClientRequestToken) must not apply them twice.
func TestReservationSurvivesLostResponses(t *testing.T) {
	db, table, loss := storetest.LossyTable(t, "inventory")
	st := NewStore(db, table)
	a := newProduct(t, st, "LOSS-A", 5)
	order := uuid.NewString()
	loss.Next("TransactWriteItems")
	if _, err := Reserve(st)(context.Background(), ReserveIn{OrderID: order, Items: []Line{{a.ID, 2}}}); err != nil {
		t.Fatalf("reserve, response lost: %v", err)
	}
	loss.WantLost(t, "TransactWriteItems", 1)
	wantStock(t, st, a.ID, stock{3, 2, 0})
	loss.Next("TransactWriteItems")
	if _, err := Commit(st)(context.Background(), OrderIn{order}); err != nil {
		t.Fatalf("commit, response lost: %v", err)
	}
	loss.WantLost(t, "TransactWriteItems", 2)
	wantStock(t, st, a.ID, stock{3, 0, 2})
	// A FAILED record whose put response is lost.
	loss.Next("PutItem")
	if _, err := Reserve(st)(context.Background(), ReserveIn{OrderID: uuid.NewString(), Items: []Line{{a.ID, 4}}}); !errors.Is(err, ErrInsufficientStock) {
		t.Fatalf("short reserve, put response lost: %v", err)
	}
	loss.WantLost(t, "PutItem", 1)
}

func TestGetMany(t *testing.T) {
	st := newTestStore(t)
	a, b := newProduct(t, st, "MANY-A", 1), newProduct(t, st, "MANY-B", 2)
	got, err := st.GetMany(context.Background(), []string{b.ID, uuid.NewString(), a.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != b.ID || got[1].ID != a.ID {
		t.Fatalf("GetMany = %+v, want b then a", got)
	}
}
