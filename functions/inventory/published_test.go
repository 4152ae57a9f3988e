package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/eventbus/envelope"
	"github.com/shop-serverless/shop/shared/money"
	"github.com/shop-serverless/shop/shared/outbox/outboxtest"
)

// outboxOf reads st's outbox (every event checked against the catalog).
func outboxOf(t *testing.T, st *Store) []outboxtest.Item {
	t.Helper()
	return outboxtest.Read(t, st.db.(*dynamodb.Client), st.table)
}

// outboxOfOrder returns the outbox items whose first event is about order.
func outboxOfOrder(t *testing.T, st *Store, order string) []outboxtest.Item {
	t.Helper()
	var out []outboxtest.Item
	for _, it := range outboxOf(t, st) {
		if it.Events[0].Subject() == order {
			out = append(out, it)
		}
	}
	return out
}

func productWithThreshold(t *testing.T, st *Store, sku string, stock, threshold int64) Product {
	t.Helper()
	id, _ := uuid.NewV7()
	p, err := st.Create(context.Background(), Product{ID: id.String(), SKU: sku, Name: "Thing " + sku,
		Price: money.Money{Amount: 100, Currency: "EUR"}, Available: stock, LowStockThreshold: threshold})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A reservation announces itself, and every product it leaves under its
// threshold with the stock left; a repeat, a commit, a restock, a failed
// reservation and a tombstone announce nothing; a release announces itself
// once.
func TestReservationEvents(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	a := newProduct(t, st, "EV-A", 10)             // default threshold 5: 10-4 = 6 stays above
	b := productWithThreshold(t, st, "EV-B", 6, 2) // 6-5 = 1 falls under 2
	c := productWithThreshold(t, st, "EV-C", 8, 3) // 8-5 = 3 is not under 3
	order := uuid.NewString()
	in := ReserveIn{OrderID: order, Items: []Line{{a.ID, 4}, {b.ID, 5}, {c.ID, 5}}}
	if _, err := stepTwice(t, st, Reserve(st), in, a.ID, b.ID, c.ID); err != nil {
		t.Fatal(err)
	}
	items := outboxOfOrder(t, st, order)
	if len(items) != 1 || fmt.Sprint(items[0].Types()) != "[shop.inventory.reserved.v1 shop.inventory.stock.low.v1]" {
		t.Fatalf("outbox of the reservation %+v", items)
	}
	reserved, low := items[0].Events[0], items[0].Events[1]
	if reserved.ID() != envelope.ID(TypeReserved, order) || reserved.Source() != "shop.inventory" {
		t.Errorf("reserved: id %s source %s", reserved.ID(), reserved.Source())
	}
	wantItems := []any{
		map[string]any{"productId": a.ID, "quantity": 4.0},
		map[string]any{"productId": b.ID, "quantity": 5.0},
		map[string]any{"productId": c.ID, "quantity": 5.0},
	}
	if d := outboxtest.Data(t, reserved); d["orderId"] != order || !reflect.DeepEqual(d["items"], wantItems) {
		t.Errorf("reserved data %v", d)
	}
	if low.Subject() != b.ID || low.ID() != envelope.ID(TypeStockLow, b.ID, order) {
		t.Errorf("stock.low about %s, id %s", low.Subject(), low.ID())
	}
	if d := outboxtest.Data(t, low); !reflect.DeepEqual(d, map[string]any{"productId": b.ID, "sku": "EV-B", "name": "Thing EV-B", "available": 1.0, "threshold": 2.0}) {
		t.Errorf("stock.low data %v", d)
	}

	for _, step := range []func(context.Context, OrderIn) (StepOut, error){Commit(st), Restock(st)} {
		if _, err := step(ctx, OrderIn{order}); err != nil {
			t.Fatal(err)
		}
	}
	if items := outboxOfOrder(t, st, order); len(items) != 1 {
		t.Fatalf("commit and restock announced: %+v", items)
	}

	// Released: announced once, with the lines.
	order2 := uuid.NewString()
	if _, err := Reserve(st)(ctx, ReserveIn{OrderID: order2, Items: []Line{{a.ID, 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := stepTwice(t, st, Release(st), OrderIn{order2}, a.ID); err != nil {
		t.Fatal(err)
	}
	items = outboxOfOrder(t, st, order2)
	if len(items) != 2 {
		t.Fatalf("outbox of order 2 %+v", items)
	}
	var released []outboxtest.Item
	for _, it := range items {
		if it.Events[0].Type() == TypeReleased {
			released = append(released, it)
		}
	}
	if len(released) != 1 || len(released[0].Events) != 1 ||
		!reflect.DeepEqual(outboxtest.Data(t, released[0].Events[0]), map[string]any{"orderId": order2, "items": []any{map[string]any{"productId": a.ID, "quantity": 1.0}}}) {
		t.Errorf("released %+v", released)
	}

	// Refused or empty-handed: nothing announced.
	short, tomb := uuid.NewString(), uuid.NewString()
	if _, err := Reserve(st)(ctx, ReserveIn{OrderID: short, Items: []Line{{b.ID, 99}}}); err == nil {
		t.Fatal("reserved beyond stock")
	}
	if _, err := Release(st)(ctx, OrderIn{short}); err != nil {
		t.Fatal(err)
	}
	if _, err := Release(st)(ctx, OrderIn{tomb}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{short, tomb} {
		if items := outboxOfOrder(t, st, id); len(items) != 0 {
			t.Errorf("order %s announced %+v", id, items)
		}
	}
}

// Reservations racing for the last units under the threshold each
// announce the stock they left, exactly: 4, 3, 2, 1, 0 for five units.
func TestStockLowIsExactUnderConcurrency(t *testing.T) {
	st := newTestStore(t)
	a := newProduct(t, st, "LOWRACE", 5)
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			_, _ = Reserve(st)(context.Background(), ReserveIn{OrderID: uuid.NewString(), Items: []Line{{a.ID, 1}}})
		})
	}
	wg.Wait()
	wantStock(t, st, a.ID, stock{0, 5, 0})
	var left []float64
	reserved := 0
	for _, it := range outboxOf(t, st) {
		for _, e := range it.Events {
			switch e.Type() {
			case TypeReserved:
				reserved++
			case TypeStockLow:
				left = append(left, outboxtest.Data(t, e)["available"].(float64))
			}
		}
	}
	sort.Float64s(left)
	if reserved != 5 || fmt.Sprint(left) != "[0 1 2 3 4]" {
		t.Errorf("%d reserved, stock left %v; want 5 and [0 1 2 3 4]", reserved, left)
	}
}

func TestCreateSetsTheLowStockThreshold(t *testing.T) {
	st := newTestStore(t)
	h := Create(st)
	post := func(body string) (*httptest.ResponseRecorder, Product) {
		r := httptest.NewRequest(http.MethodPost, "/v1/products", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		var p Product
		_ = jsonDecode(rec.Body.String(), &p)
		return rec, p
	}
	rec, p := post(`{"sku":"THR-1","name":"T","price":{"amount":1,"currency":"EUR"},"stock":3}`)
	if rec.Code != http.StatusCreated || p.LowStockThreshold != DefaultLowStockThreshold || !strings.Contains(rec.Body.String(), `"lowStockThreshold":5`) {
		t.Errorf("default: %d %s", rec.Code, rec.Body)
	}
	rec, p = post(`{"sku":"THR-2","name":"T","price":{"amount":1,"currency":"EUR"},"stock":3,"lowStockThreshold":40}`)
	if rec.Code != http.StatusCreated || p.LowStockThreshold != 40 {
		t.Errorf("explicit: %d %s", rec.Code, rec.Body)
	}
	if got, err := st.Get(context.Background(), p.ID); err != nil || got.LowStockThreshold != 40 {
		t.Errorf("stored: %+v, %v", got, err)
	}
	for _, bad := range []string{`0`, `-1`, `1000000001`, `"5"`} {
		if rec, _ := post(`{"sku":"THR-3","name":"T","price":{"amount":1,"currency":"EUR"},"stock":3,"lowStockThreshold":` + bad + `}`); rec.Code != http.StatusBadRequest {
			t.Errorf("lowStockThreshold %s: %d %s", bad, rec.Code, rec.Body)
		}
	}
}

func jsonDecode(s string, v any) error { return json.Unmarshal([]byte(s), v) }
