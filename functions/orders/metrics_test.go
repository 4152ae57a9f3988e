package orders

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/shop-serverless/shop/shared/metrics"
	"github.com/shop-serverless/shop/shared/metrics/emftest"
)

// The saga's outcome is counted by the run that makes the transition, not
// by a retried step that finds it made.
func TestStepsCountTheirTransitionOnce(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	var buf bytes.Buffer
	defer metrics.Redirect(&buf)()

	confirmedOrder := placeOrder(t, st, "u1")
	for range 2 {
		if _, err := MarkConfirmed(st, nil)(ctx, StepIn{OrderID: confirmedOrder.ID}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := MarkCancelled(st)(ctx, CancelStepIn{OrderID: placeOrder(t, st, "u1").ID, Reason: ReasonOutOfStock}); err != nil {
			t.Fatal(err)
		}
	}
	cancelledOrder := placeOrder(t, st, "u1")
	for range 2 {
		if _, err := MarkCancelled(st)(ctx, CancelStepIn{OrderID: cancelledOrder.ID, Reason: ReasonPaymentDeclined}); err != nil {
			t.Fatal(err)
		}
	}

	got := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		ms, err := emftest.Validate([]byte(line))
		if err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		for _, m := range ms {
			key := m.Name + "/" + m.Dimensions[metrics.DimReason] + m.Dimensions[metrics.DimCurrency]
			got[key] += m.Values[0]
		}
	}
	want := map[string]float64{
		"OrdersConfirmed/":                                 1,
		"Revenue/" + confirmedOrder.Total.Currency:         float64(confirmedOrder.Total.Amount),
		"OrdersCancelled/" + string(ReasonOutOfStock):      2,
		"OrdersCancelled/" + string(ReasonPaymentDeclined): 1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("metrics %v, want %v", got, want)
	}
}
