package users

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/outbox/outboxtest"
	"github.com/shop-serverless/shop/shared/store/storetest"
)

// The store's writes lose their response once, after the emulator applied
// them (storetest.LossyTable), and the SDK retries: the caller must get the
// answer the write would have given, and a genuine conflict must stay one.
func TestStoreWritesSurviveLostResponses(t *testing.T) {
	db, table, loss := storetest.LossyTable(t, "users")
	st := NewStore(db, table)
	ctx := context.Background()
	id := uuid.NewString()

	loss.Next("TransactWriteItems")
	u, err := st.Create(ctx, User{ID: id, Email: "lost@example.com", Name: "Lost"}, "h")
	if err != nil || u.Version != 1 {
		t.Fatalf("Create, response lost = %+v, %v; want the new user", u, err)
	}
	loss.WantLost(t, "TransactWriteItems", 1)
	if got, err := st.Get(ctx, id); err != nil || got.Email != "lost@example.com" {
		t.Fatalf("Get after Create = %+v, %v", got, err)
	}

	name := "Found"
	loss.Next("TransactWriteItems")
	u, err = st.Update(ctx, id, 1, Patch{Name: &name})
	if err != nil || u.Version != 2 || u.Name != name {
		t.Fatalf("Update, response lost = %+v, %v; want version 2 named %q", u, err, name)
	}
	loss.WantLost(t, "TransactWriteItems", 2)

	// Genuine conflicts, each with its response lost too.
	loss.Next("TransactWriteItems")
	if _, err := st.Create(ctx, User{ID: uuid.NewString(), Email: "LOST@example.com", Name: "Other"}, "h"); !errors.Is(err, ErrEmailTaken) {
		t.Fatalf("Create of a taken email, response lost: err = %v, want ErrEmailTaken", err)
	}
	loss.Next("TransactWriteItems")
	if _, err := st.Update(ctx, id, 1, Patch{Name: &name}); !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("stale Update, response lost: err = %v, want ErrVersionMismatch", err)
	}
	loss.WantLost(t, "TransactWriteItems", 4)

	// Each applied change wrote its event once, the retried ones included.
	items := outboxtest.Read(t, db, table)
	if len(items) != 2 || items[0].Events[0].Subject() != id || items[1].Events[0].Subject() != id {
		t.Fatalf("outbox %+v, want user.created and one user.updated of %s", items, id)
	}
}
