package payments

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/shop-serverless/shop/functions/provider"
	"github.com/shop-serverless/shop/shared/eventbus/envelope"
	"github.com/shop-serverless/shop/shared/outbox/outboxtest"
	"github.com/shop-serverless/shop/shared/store/storetest"
)

// wantAnnounced fails unless the order's payment announced exactly types,
// each once, with its id, subject and data.
func (r *rig) wantAnnounced(t *testing.T, in ChargeIn, types ...string) {
	t.Helper()
	wantAnnouncedIn(t, r.st, in, types...)
}

func wantAnnouncedIn(t *testing.T, st *Store, in ChargeIn, types ...string) {
	t.Helper()
	var got []string
	for _, it := range outboxtest.Read(t, st.db.(*dynamodb.Client), st.table) {
		for _, e := range it.Events {
			if e.Subject() != in.OrderID {
				continue
			}
			got = append(got, e.Type())
			if e.ID() != envelope.ID(e.Type(), in.OrderID) || e.Source() != "shop.payments" {
				t.Errorf("%s: id %s source %s", e.Type(), e.ID(), e.Source())
			}
			want := map[string]any{"orderId": in.OrderID, "userId": in.UserID,
				"amount": map[string]any{"amount": float64(in.Amount.Amount), "currency": in.Amount.Currency}}
			if d := outboxtest.Data(t, e); !reflect.DeepEqual(d, want) {
				t.Errorf("%s data %v, want %v", e.Type(), d, want)
			}
		}
	}
	sort.Strings(got)
	sort.Strings(types)
	if fmt.Sprint(got) != fmt.Sprint(types) {
		t.Errorf("order %s announced %v, want %v", in.OrderID, got, types)
	}
}

// Every move that is announced is announced once, in its transaction, and
// the others never: charged then refunded (each step twice), declined
// (twice), nothing for a charge that failed or was refused, nor for a
// refund that found no charge.
func TestPaymentEvents(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()

	paid := chargeIn(provider.TokenVisa)
	for range 2 {
		if _, err := r.charge(ctx, paid); err != nil {
			t.Fatal(err)
		}
	}
	r.wantAnnounced(t, paid, TypeCharged)
	for range 2 {
		if _, err := r.refund(ctx, RefundIn{paid.OrderID}); err != nil {
			t.Fatal(err)
		}
	}
	r.wantAnnounced(t, paid, TypeCharged, TypeRefunded)
	if _, err := r.charge(ctx, paid); err == nil {
		t.Fatal("charge after refund succeeded")
	}
	r.wantAnnounced(t, paid, TypeCharged, TypeRefunded)

	declined := chargeIn(provider.TokenDeclined)
	for range 2 {
		_, _ = r.charge(ctx, declined)
	}
	_, _ = r.refund(ctx, RefundIn{declined.OrderID})
	r.wantAnnounced(t, declined, TypeDeclined)

	failing := chargeIn(provider.TokenError)
	_, _ = r.charge(ctx, failing)
	_, _ = r.refund(ctx, RefundIn{failing.OrderID})
	r.wantAnnounced(t, failing)

	early := chargeIn(provider.TokenVisa)
	_, _ = r.refund(ctx, RefundIn{early.OrderID})
	_, _ = r.charge(ctx, early)
	r.wantAnnounced(t, early)
}

// A move whose answer is lost is retried by the SDK with its
// ClientRequestToken: the charge is recorded and announced once.
func TestPaymentEventSurvivesALostResponse(t *testing.T) {
	db, table, loss := storetest.LossyTable(t, "payments")
	r := newRig(t, nil)
	st := NewStore(db, table)
	charge := Charge(st, r.provider)
	in := chargeIn(provider.TokenVisa)
	loss.Next("TransactWriteItems")
	if out, err := charge(context.Background(), in); err != nil || out.Status != StatusCharged || out.ProviderRef == "" {
		t.Fatalf("charge, response lost = %+v, %v", out, err)
	}
	loss.WantLost(t, "TransactWriteItems", 1)
	if p, err := st.Get(context.Background(), in.OrderID); err != nil || p.Status != StatusCharged || p.Attempts != 1 {
		t.Fatalf("payment %+v, %v", p, err)
	}
	wantAnnouncedIn(t, st, in, TypeCharged)
}
