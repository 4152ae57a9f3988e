package inventory

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	catalog "github.com/shop-serverless/shop/events"
	"github.com/shop-serverless/shop/events/explain"
	"github.com/shop-serverless/shop/shared/runtime/consumer/inbound"
	"github.com/shop-serverless/shop/shared/store/storetest"
)

// received is a stock.received event, checked against its schema, as the
// consumer hands it on.
func received(t *testing.T, id, productID string, quantity int64) inbound.Event {
	t.Helper()
	raw, err := catalog.Example(TypeStockReceived)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	_ = json.Unmarshal(raw, &doc)
	doc["id"], doc["subject"] = id, productID
	doc["data"] = map[string]any{"productId": productID, "quantity": quantity, "shipmentId": "SHP-" + id[:8]}
	structured, _ := json.Marshal(doc)
	if err := explain.ValidateEvent(structured); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(doc["data"])
	return inbound.Event{ID: id, Source: doc["source"].(string), Type: TypeStockReceived, Subject: productID, Time: time.Now(), Data: data}
}

func available(t *testing.T, st *Store, id string) int64 {
	t.Helper()
	p, err := st.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p.Available
}

func TestReceiveStockAddsOncePerEvent(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	handle := ReceiveStock(st)
	p := newProduct(t, st, "RCV-1", 5)

	first := received(t, uuid.NewString(), p.ID, 40)
	for range 3 {
		if err := handle(ctx, first); err != nil {
			t.Fatal(err)
		}
	}
	if got := available(t, st, p.ID); got != 45 {
		t.Fatalf("available %d after one delivery of 40 received three times, want 45", got)
	}
	// Another event, and the same id from another source, are deliveries of their own.
	if err := handle(ctx, received(t, uuid.NewString(), p.ID, 10)); err != nil {
		t.Fatal(err)
	}
	elsewhere := first
	elsewhere.Source = "com.example.other-warehouse"
	if err := handle(ctx, elsewhere); err != nil {
		t.Fatal(err)
	}
	if got := available(t, st, p.ID); got != 95 {
		t.Fatalf("available %d, want 95", got)
	}
	if got, err := st.Get(ctx, p.ID); err != nil || got.Version != 4 || got.Reserved != 0 {
		t.Fatalf("product %+v %v: want version 4 (three additions), nothing reserved", got, err)
	}
}

func TestReceiveStockRefusesForGood(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	handle := ReceiveStock(st)
	full := newProduct(t, st, "RCV-FULL", MaxStock-10)
	for _, tt := range []struct {
		name string
		e    inbound.Event
	}{
		{"a product the catalog does not have", received(t, uuid.NewString(), uuid.NewString(), 1)},
		{"stock past the limit", received(t, uuid.NewString(), full.ID, 11)},
		{"undecodable data", inbound.Event{ID: "x", Type: TypeStockReceived, Data: []byte(`{"quantity":"many"}`)}},
		{"another type", inbound.Event{ID: "y", Type: "shop.inventory.reserved.v1", Data: []byte(`{"orderId":"o","items":[]}`)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := handle(ctx, tt.e); !inbound.IsPermanent(err) {
				t.Fatalf("err %v, want a permanent failure", err)
			}
		})
	}
	if got := available(t, st, full.ID); got != MaxStock-10 {
		t.Fatalf("available %d, want unchanged", got)
	}
	// Nothing was received, so the same event may succeed later (the
	// product at its limit sold some stock meanwhile).
	if _, err := st.AdjustStock(ctx, full.ID, -1); err != nil {
		t.Fatal(err)
	}
	refused := received(t, uuid.NewString(), full.ID, 11)
	if err := handle(ctx, refused); err != nil {
		t.Fatalf("after making room: %v", err)
	}
	if got := available(t, st, full.ID); got != MaxStock {
		t.Fatalf("available %d, want %d", got, MaxStock)
	}
}

func TestReceiveStockConcurrentDuplicates(t *testing.T) {
	st := newTestStore(t)
	p := newProduct(t, st, "RCV-RACE", 0)
	e := received(t, uuid.NewString(), p.ID, 7)
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ReceiveStock(st)(context.Background(), e); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := available(t, st, p.ID); got != 7 {
		t.Fatalf("available %d after six concurrent deliveries of one event of 7, want 7", got)
	}
}

func TestReceiveStockSurvivesALostResponse(t *testing.T) {
	db, table, loss := storetest.LossyTable(t, "inventory")
	st := NewStore(db, table)
	p := newProduct(t, st, "RCV-LOST", 1)
	loss.Next("TransactWriteItems")
	added, err := st.ReceiveStock(context.Background(), "com.example.warehouse", uuid.NewString(), stockReceived{ProductID: p.ID, Quantity: 4, ShipmentID: "S"})
	if err != nil || !added {
		t.Fatalf("added %v, %v; want the delivery added once", added, err)
	}
	loss.WantLost(t, "TransactWriteItems", 1)
	if got := available(t, st, p.ID); got != 5 {
		t.Fatalf("available %d, want 5", got)
	}
}
