package inventory

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/money"
	"github.com/shop-serverless/shop/shared/store/storetest"
)

func newTestStore(t *testing.T) *Store {
	t.Helper()
	db, table := storetest.Table(t, "inventory")
	return NewStore(db, table)
}

func newProduct(t *testing.T, st *Store, sku string, stock int64) Product {
	t.Helper()
	id, _ := uuid.NewV7()
	p, err := st.Create(context.Background(), Product{ID: id.String(), SKU: sku, Name: "Thing " + sku, Price: money.Money{Amount: 1999, Currency: "EUR"}, Available: stock})
	if err != nil {
		t.Fatalf("create %s: %v", sku, err)
	}
	return p
}

func TestStoreCreateGetUniqueSKU(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	p := newProduct(t, st, "SKU-1", 5)
	got, err := st.Get(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.SKU != "SKU-1" || got.Price != (money.Money{Amount: 1999, Currency: "EUR"}) || got.Available != 5 || got.Reserved != 0 || got.Version != 1 {
		t.Fatalf("Get = %+v", got)
	}
	id, _ := uuid.NewV7()
	if _, err := st.Create(ctx, Product{ID: id.String(), SKU: "SKU-1", Name: "dup", Price: got.Price}); !errors.Is(err, ErrSKUTaken) {
		t.Fatalf("duplicate sku: err = %v, want ErrSKUTaken", err)
	}
	if _, err := st.Get(ctx, id.String()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the refused product was written: %v", err)
	}
}

func TestStoreListPages(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	var want []string
	for i := range 7 {
		want = append(want, newProduct(t, st, fmt.Sprintf("P-%d", i), 1).ID)
	}
	var got []string
	cursor := ""
	pages := 0
	for {
		items, next, err := st.List(ctx, 3, cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, p := range items {
			got = append(got, p.ID)
		}
		if next == "" {
			break
		}
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		cursor = next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("listed %v, want %v in creation order", got, want)
	}
	if _, _, err := st.List(ctx, 3, "bm9wZQ"); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("bad cursor: err = %v", err)
	}
}

func TestStoreAdjustStockNeverNegative(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	p := newProduct(t, st, "STOCK-1", 10)
	if _, err := st.AdjustStock(ctx, p.ID, -11); !errors.Is(err, ErrInsufficientStock) {
		t.Fatalf("take 11 of 10: err = %v", err)
	}
	// 25 concurrent takes of 1 from 10: exactly 10 succeed, stock ends at 0.
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for range 25 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := st.AdjustStock(ctx, p.ID, -1)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrInsufficientStock):
				refused++
			default:
				t.Errorf("adjust: %v", err)
			}
		}()
	}
	wg.Wait()
	got, err := st.Get(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ok != 10 || refused != 15 || got.Available != 0 {
		t.Fatalf("ok=%d refused=%d available=%d; want 10, 15, 0", ok, refused, got.Available)
	}
	if got.Version != 11 {
		t.Fatalf("version = %d, want 11 (1 + 10 writes)", got.Version)
	}
	if _, err := st.AdjustStock(ctx, p.ID, MaxStock+1); !errors.Is(err, ErrStockLimit) {
		t.Fatalf("past MaxStock: err = %v", err)
	}
	if _, err := st.AdjustStock(ctx, uuid.NewString(), 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent product: err = %v", err)
	}
}
