package orders

import (
	"context"
	"fmt"

	"github.com/shop-serverless/shop/shared/faults"
	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/metrics"
)

// StepIn is the input of the mark-confirmed step.
type StepIn struct {
	OrderID string `json:"orderId"`
}

// StepOut is what the order steps answer: the order and its status after
// the step.
type StepOut struct {
	OrderID string `json:"orderId"`
	Status  Status `json:"status"`
}

// MarkConfirmed is the saga step that confirms a PENDING order once its
// stock is reserved and its payment charged. Idempotent on the order id: a
// CONFIRMED order is confirmed again with the same answer. It refuses with
// ErrCancelRequested when the customer asked to cancel (the saga then
// compensates: CANCELLED_BY_USER), ErrOrderCancelled for a cancelled order,
// ErrOrderNotFound for none; all three are final.
//
// The fault switch's per-order fault (faults.Fault.Key = the order id)
// fails the step after the order is read and before it is written, as an
// InjectedFault, which the saga does not retry: the way tests prove a
// failure after charging is compensated.
//
// The run that confirms the order counts it (OrdersConfirmed, and Revenue
// in its currency); a retried run that finds it confirmed does not.
func MarkConfirmed(st *Store, injector *faults.Injector) func(context.Context, StepIn) (StepOut, error) {
	return func(ctx context.Context, in StepIn) (StepOut, error) {
		if !httpapi.IsID(in.OrderID) {
			return StepOut{}, fmt.Errorf("%w: %q", ErrOrderNotFound, in.OrderID)
		}
		o, err := st.Get(ctx, in.OrderID)
		if err != nil {
			return StepOut{}, err
		}
		if err := injector.InjectKey(ctx, in.OrderID); err != nil {
			return StepOut{}, fmt.Errorf("mark order %s confirmed: %w", in.OrderID, err)
		}
		confirmed := false // by this run, not by an earlier one this run retries
		o, err = st.change(ctx, in.OrderID, &o, func(o Order) (*Event, error) {
			confirmed = false
			switch {
			case o.Status == StatusConfirmed:
				return nil, nil
			case o.Status == StatusCancelled:
				return nil, ErrOrderCancelled
			case o.CancelRequested:
				return nil, ErrCancelRequested
			}
			confirmed = true
			return &Event{Type: EventOrderConfirmed}, nil
		})
		if err != nil {
			return StepOut{}, err
		}
		if confirmed {
			countConfirmed(o)
		}
		return StepOut{OrderID: o.ID, Status: o.Status}, nil
	}
}

// countConfirmed counts the saga's success: OrdersConfirmed, and Revenue,
// the order's total in minor units, in its currency.
func countConfirmed(o Order) {
	metrics.Count(metrics.OrdersConfirmed, 1)
	metrics.Emit([]metrics.Value{{Name: metrics.Revenue, Unit: metrics.UnitNone, Value: float64(o.Total.Amount)}},
		metrics.Dim(metrics.DimCurrency, o.Total.Currency))
}
