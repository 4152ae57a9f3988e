package payments

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/shop-serverless/shop/functions/provider"
	"github.com/shop-serverless/shop/shared/breaker"
	"github.com/shop-serverless/shop/shared/client"
	"github.com/shop-serverless/shop/shared/money"
	"github.com/shop-serverless/shop/shared/store"
	"github.com/shop-serverless/shop/shared/store/storetest"
)

const testKey = "sk_test_payments"

// rig is payments against the provider simulator behind a real HTTP server.
type rig struct {
	st       *Store
	sim      *provider.Store
	provider *HTTPProvider
	charge   func(context.Context, ChargeIn) (ChargeOut, error)
	refund   func(context.Context, RefundIn) (RefundOut, error)
}

func newRig(t *testing.T, b *breaker.Breaker) *rig {
	t.Helper()
	db, table := storetest.Table(t, "payments")
	simDB, simTable := storetest.Table(t, "provider")
	sim := provider.NewStore(simDB, simTable)
	key := func(context.Context) (string, error) { return testKey, nil }
	mux := http.NewServeMux()
	mux.Handle("POST /provider/v1/charges", provider.Charges(sim, key, provider.Options{Hang: AttemptTimeout + time.Second}))
	mux.Handle("POST /provider/v1/refunds", provider.Refunds(sim, key))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p, err := NewHTTPProvider(srv.URL+"/provider", client.StaticToken(testKey), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := NewStore(db, table)
	return &rig{st: st, sim: sim, provider: p, charge: Charge(st, p), refund: Refund(st, p)}
}

func chargeIn(token string) ChargeIn {
	return ChargeIn{OrderID: uuid.NewString(), UserID: uuid.NewString(), Amount: money.Money{Amount: 1998, Currency: "EUR"}, PaymentToken: token}
}

// simRecord is the simulator's record of the order's charge; found is
// false when the provider never saw one.
func (r *rig) simRecord(t *testing.T, orderID string) (provider.ChargeRecord, bool) {
	t.Helper()
	rec, err := r.sim.GetCharge(context.Background(), orderID)
	if errors.Is(err, store.ErrNotFound) {
		return rec, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return rec, true
}

func (r *rig) wantPayment(t *testing.T, orderID, status string, attempts int64) Payment {
	t.Helper()
	p, err := r.st.Get(context.Background(), orderID)
	if err != nil || p.Status != status || p.Attempts != attempts {
		t.Fatalf("payment = %+v, %v; want %s after %d attempts", p, err, status, attempts)
	}
	return p
}

func TestChargeAndRefundOnce(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	in := chargeIn(provider.TokenVisa)
	out, err := r.charge(ctx, in)
	if err != nil || out.Status != StatusCharged || out.ProviderRef == "" {
		t.Fatalf("charge = %+v, %v", out, err)
	}
	if again, err := r.charge(ctx, in); err != nil || again != out {
		t.Fatalf("repeat = %+v, %v; want %+v", again, err, out)
	}
	r.wantPayment(t, in.OrderID, StatusCharged, 1)
	for range 2 {
		if ro, err := r.refund(ctx, RefundIn{in.OrderID}); err != nil || ro.Status != StatusRefunded {
			t.Fatalf("refund = %+v, %v", ro, err)
		}
	}
	r.wantPayment(t, in.OrderID, StatusRefunded, 1)
	rec, _ := r.simRecord(t, in.OrderID)
	if rec.Attempts != 1 || rec.Refunds != 1 || rec.RefundedAmount != 1998 {
		t.Fatalf("provider record %+v: want charged once, refunded once, 1998", rec)
	}
	if _, err := r.charge(ctx, in); !errors.Is(err, ErrCancelled) {
		t.Fatalf("charge after refund: %v, want PaymentCancelled", err)
	}
}

func TestChargeDeclined(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	in := chargeIn(provider.TokenDeclined)
	for range 2 {
		if _, err := r.charge(ctx, in); !errors.Is(err, ErrDeclined) {
			t.Fatalf("charge: %v, want PaymentDeclined", err)
		}
	}
	r.wantPayment(t, in.OrderID, StatusDeclined, 1)
	if ro, err := r.refund(ctx, RefundIn{in.OrderID}); err != nil || ro.Status != StatusNotCharged {
		t.Fatalf("refund = %+v, %v", ro, err)
	}
	if rec, _ := r.simRecord(t, in.OrderID); rec.Attempts != 1 || rec.Refunds != 0 {
		t.Fatalf("provider record %+v", rec)
	}
}

// A payment method the provider does not know is refused with 400: final,
// like a decline, since asking again cannot succeed.
func TestChargeUnknownTokenIsFinal(t *testing.T) {
	r := newRig(t, nil)
	in := chargeIn("tok_nonsense")
	if _, err := r.charge(context.Background(), in); !errors.Is(err, ErrDeclined) {
		t.Fatalf("charge: %v, want PaymentDeclined", err)
	}
	r.wantPayment(t, in.OrderID, StatusDeclined, 1)
}

// tok_flaky fails twice with 503: the client's retries (same key) get the
// charge within one step call, charged once.
func TestChargeFlaky(t *testing.T) {
	r := newRig(t, nil)
	in := chargeIn(provider.TokenFlaky)
	if out, err := r.charge(context.Background(), in); err != nil || out.Status != StatusCharged {
		t.Fatalf("charge = %+v, %v", out, err)
	}
	r.wantPayment(t, in.OrderID, StatusCharged, 1)
	if rec, _ := r.simRecord(t, in.OrderID); rec.Attempts != 3 || rec.Status != "succeeded" {
		t.Fatalf("provider record %+v: want 3 attempts, one charge", rec)
	}
}

// tok_timeout charges but never answers in time: the step reports the
// provider unavailable, and the refund finds the charge and refunds it.
func TestChargeTimeoutThenRefund(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out three 3 s attempts")
	}
	r := newRig(t, nil)
	ctx := context.Background()
	in := chargeIn(provider.TokenTimeout)
	if _, err := r.charge(ctx, in); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("charge: %v, want PaymentUnavailable", err)
	}
	r.wantPayment(t, in.OrderID, StatusPending, 1)
	if ro, err := r.refund(ctx, RefundIn{in.OrderID}); err != nil || ro.Status != StatusRefunded {
		t.Fatalf("refund = %+v, %v", ro, err)
	}
	rec, _ := r.simRecord(t, in.OrderID)
	if rec.Status != "succeeded" || rec.Refunds != 1 || rec.RefundedAmount != 1998 {
		t.Fatalf("provider record %+v: want the charge refunded once", rec)
	}
	if _, err := r.charge(ctx, in); !errors.Is(err, ErrCancelled) {
		t.Fatalf("charge after the refund: %v, want PaymentCancelled", err)
	}
	// Refunded from PENDING: the refund is announced, a charge never was.
	r.wantAnnounced(t, in, TypeRefunded)
}

func TestChargeErrorThenRefund(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	in := chargeIn(provider.TokenError)
	if _, err := r.charge(ctx, in); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("charge: %v, want PaymentUnavailable", err)
	}
	if ro, err := r.refund(ctx, RefundIn{in.OrderID}); err != nil || ro.Status != StatusNotCharged {
		t.Fatalf("refund = %+v, %v", ro, err)
	}
	r.wantPayment(t, in.OrderID, StatusNotCharged, 1)
}

// A refund that runs first closes the payment: the late charge never
// reaches the provider.
func TestRefundBeforeCharge(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	in := chargeIn(provider.TokenVisa)
	for range 2 {
		if ro, err := r.refund(ctx, RefundIn{in.OrderID}); err != nil || ro.Status != StatusNotCharged {
			t.Fatalf("refund = %+v, %v", ro, err)
		}
	}
	if _, err := r.charge(ctx, in); !errors.Is(err, ErrCancelled) {
		t.Fatalf("late charge: %v, want PaymentCancelled", err)
	}
	if rec, seen := r.simRecord(t, in.OrderID); seen {
		t.Fatalf("the provider saw a charge: %+v", rec)
	}
}

// A charge that lands after a refund closed the payment NOT_CHARGED (the
// refund's provider call came first) is refunded by the charge itself.
func TestChargeRacingRefundIsRefunded(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	in := chargeIn(provider.TokenVisa)
	racing := Charge(r.st, refundFirst{r.provider, func() {
		if ro, err := r.refund(ctx, RefundIn{in.OrderID}); err != nil || ro.Status != StatusNotCharged {
			t.Errorf("racing refund = %+v, %v", ro, err)
		}
	}})
	if _, err := racing(ctx, in); !errors.Is(err, ErrCancelled) {
		t.Fatalf("charge: %v, want PaymentCancelled", err)
	}
	rec, _ := r.simRecord(t, in.OrderID)
	if rec.Status != "succeeded" || rec.Refunds != 1 {
		t.Fatalf("provider record %+v: want charged and refunded once", rec)
	}
	r.wantAnnounced(t, in) // NOT_CHARGED all along, as the payment records it
}

// refundFirst runs before() just before the charge reaches the provider.
type refundFirst struct {
	Provider
	before func()
}

func (p refundFirst) Charge(ctx context.Context, orderID string, amount money.Money, source string) (string, error) {
	p.before()
	return p.Provider.Charge(ctx, orderID, amount, source)
}

// Failing charges open the breaker: later charges fail fast as
// PaymentUnavailable without reaching the provider.
func TestBreakerOpens(t *testing.T) {
	b := breaker.New(breaker.Settings{Name: BreakerName, MinRequests: 3, FailureRatio: 1, OpenTimeout: time.Minute}, nil)
	r := newRig(t, b)
	ctx := context.Background()
	for range 3 {
		if _, err := r.charge(ctx, chargeIn(provider.TokenError)); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("charge: %v", err)
		}
	}
	in := chargeIn(provider.TokenVisa)
	_, err := r.charge(ctx, in)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("charge with the breaker open: %v, want PaymentUnavailable (breaker open)", err)
	}
	if _, seen := r.simRecord(t, in.OrderID); seen {
		t.Fatal("the provider was called through an open breaker")
	}
	r.wantPayment(t, in.OrderID, StatusPending, 1)
	r.wantAnnounced(t, in)
}

func TestChargeInValidate(t *testing.T) {
	ok := chargeIn(provider.TokenVisa)
	bad := map[string]func(*ChargeIn){
		"no order":     func(in *ChargeIn) { in.OrderID = "" },
		"order with #": func(in *ChargeIn) { in.OrderID = "a#b" },
		"no user":      func(in *ChargeIn) { in.UserID = "" },
		"zero amount":  func(in *ChargeIn) { in.Amount.Amount = 0 },
		"negative":     func(in *ChargeIn) { in.Amount.Amount = -1 },
		"currency":     func(in *ChargeIn) { in.Amount.Currency = "eur" },
		"no token":     func(in *ChargeIn) { in.PaymentToken = "" },
		"odd token":    func(in *ChargeIn) { in.PaymentToken = "tok visa" },
	}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, spoil := range bad {
		in := ok
		spoil(&in)
		if err := in.Validate(); !errors.Is(err, ErrInvalidStepInput) {
			t.Errorf("%s: %v, want InvalidStepInput", name, err)
		}
	}
}
