package orders

import (
	"context"
	"fmt"

	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/metrics"
)

// CancelStepIn is the input of the mark-cancelled step.
type CancelStepIn struct {
	OrderID string `json:"orderId"`
	Reason  Reason `json:"reason"`
}

// MarkCancelled is the saga step that ends an order CANCELLED with reason,
// the last of every compensation. A PENDING or CONFIRMED order is
// cancelled; a CANCELLED one answers the same again and keeps its first
// reason (idempotent on the order id). ErrOrderNotFound for no order,
// ErrInvalidReason for a reason not among the five (a state machine bug:
// final, so it shows instead of being retried).
//
// The run that cancels the order counts it (OrdersCancelled with its
// reason); a retried run that finds it cancelled does not.
func MarkCancelled(st *Store) func(context.Context, CancelStepIn) (StepOut, error) {
	return func(ctx context.Context, in CancelStepIn) (StepOut, error) {
		if !in.Reason.Valid() {
			return StepOut{}, fmt.Errorf("%w: %q", ErrInvalidReason, in.Reason)
		}
		if !httpapi.IsID(in.OrderID) {
			return StepOut{}, fmt.Errorf("%w: %q", ErrOrderNotFound, in.OrderID)
		}
		cancelled := false // by this run, not by an earlier one this run retries
		o, err := st.change(ctx, in.OrderID, nil, func(o Order) (*Event, error) {
			cancelled = o.Status != StatusCancelled
			if !cancelled {
				return nil, nil
			}
			return &Event{Type: EventOrderCancelled, Reason: in.Reason}, nil
		})
		if err != nil {
			return StepOut{}, err
		}
		if cancelled {
			metrics.Count(metrics.OrdersCancelled, 1, metrics.Dim(metrics.DimReason, string(in.Reason)))
		}
		return StepOut{OrderID: o.ID, Status: o.Status}, nil
	}
}
