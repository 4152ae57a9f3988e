package inventory

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/money"
	"github.com/shop-serverless/shop/shared/store/storetest"
)

// The store's writes lose their response once, after the emulator applied
// them (storetest.LossyTable), and the SDK retries: the caller must get the
// answer the write would have given, the write must happen once, and a
// genuine refusal must stay one.
func TestStoreWritesSurviveLostResponses(t *testing.T) {
	db, table, loss := storetest.LossyTable(t, "inventory")
	st := NewStore(db, table)
	ctx := context.Background()
	price := money.Money{Amount: 500, Currency: "EUR"}

	loss.Next("TransactWriteItems")
	p, err := st.Create(ctx, Product{ID: uuid.NewString(), SKU: "LOST-1", Name: "Lost", Price: price, Available: 10})
	if err != nil || p.Version != 1 {
		t.Fatalf("Create, response lost = %+v, %v; want the new product", p, err)
	}
	loss.WantLost(t, "TransactWriteItems", 1)

	// A take whose condition (enough stock) still holds after it ran: the
	// retry must not take a second unit.
	loss.Next("UpdateItem")
	got, err := st.AdjustStock(ctx, p.ID, -1)
	if err != nil || got.Available != 9 || got.Version != 2 {
		t.Fatalf("AdjustStock(-1), response lost = %+v, %v; want 9 available at version 2", got, err)
	}
	loss.WantLost(t, "UpdateItem", 1)
	if cur, err := st.Get(ctx, p.ID); err != nil || cur.Available != 9 {
		t.Fatalf("stock after one take = %+v, %v; want 9", cur, err)
	}

	// Genuine refusals, each with its response lost too.
	loss.Next("TransactWriteItems")
	if _, err := st.Create(ctx, Product{ID: uuid.NewString(), SKU: "LOST-1", Name: "Dup", Price: price}); !errors.Is(err, ErrSKUTaken) {
		t.Fatalf("Create of a taken SKU, response lost: err = %v, want ErrSKUTaken", err)
	}
	loss.Next("UpdateItem")
	if _, err := st.AdjustStock(ctx, p.ID, -10); !errors.Is(err, ErrInsufficientStock) {
		t.Fatalf("AdjustStock(-10) of 9, response lost: err = %v, want ErrInsufficientStock", err)
	}
	loss.WantLost(t, "TransactWriteItems", 2)
	loss.WantLost(t, "UpdateItem", 2)
}

// A patch and a delete whose response is lost: the SDK's retry meets the
// write its first attempt made, and must answer as that attempt would have
// (the patched product; done), not 412 against itself.
func TestUpdateAndDeleteSurviveLostResponses(t *testing.T) {
	db, table, loss := storetest.LossyTable(t, "inventory")
	st := NewStore(db, table)
	ctx := context.Background()
	p, err := st.Create(ctx, Product{ID: uuid.NewString(), SKU: "LOST-2", Name: "Lost", Price: money.Money{Amount: 500, Currency: "EUR"}, Available: 3})
	if err != nil {
		t.Fatal(err)
	}
	name := "Found"
	loss.Next("UpdateItem")
	got, err := st.Update(ctx, p.ID, 1, ProductPatch{Name: &name})
	if err != nil || got.Name != "Found" || got.Version != 2 {
		t.Fatalf("Update, response lost = %+v, %v; want the patched product at version 2", got, err)
	}
	loss.WantLost(t, "UpdateItem", 1)

	loss.Next("UpdateItem")
	if err := st.Delete(ctx, p.ID, 2); err != nil {
		t.Fatalf("Delete, response lost: %v, want done", err)
	}
	loss.WantLost(t, "UpdateItem", 2)
	if _, err := st.Get(ctx, p.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after the delete: %v, want ErrNotFound", err)
	}
	// A stale patch, its response lost too, stays a refusal.
	loss.Next("UpdateItem")
	if _, err := st.Update(ctx, p.ID, 1, ProductPatch{Name: &name}); !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("stale Update, response lost: %v, want ErrVersionMismatch", err)
	}
	loss.WantLost(t, "UpdateItem", 3)
}
