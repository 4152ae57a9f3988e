package orders

import (
	"net/http"

	"github.com/shop-serverless/shop/shared/auth"
	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/tracing"
)

// Cancel handles POST /v1/orders/{id}/cancel (the customer only; the route
// requires an Idempotency-Key, wired in its main): 202 with the order.
//
//   - PENDING: the request is recorded (CancelRequested). The saga's
//     confirm step then refuses the order and its compensation cancels it
//     (CANCELLED_BY_USER), refunding and releasing what it took. The saga
//     may already be past confirming: then the order is CONFIRMED when this
//     write lands, the write is decided again, and the case below applies.
//   - CONFIRMED: the request is recorded and the cancel execution started
//     ("<id>-cancel"), which refunds, restocks and cancels.
//   - cancel requested already: 202 again (a CONFIRMED order's cancel
//     execution is started again, which starts it at most once).
//   - CANCELLED: 409.
func Cancel(st *Store, saga *Saga) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.PathID(r, "id", "order")
		if err != nil {
			return err
		}
		tracing.Annotate(r.Context(), tracing.AnnotationOrderID, id)
		o, err := st.Get(r.Context(), id)
		if err != nil {
			return errs.HTTP(err)
		}
		if err := auth.SelfOrScope(r.Context(), o.UserID, ""); err != nil {
			return err
		}
		o, err = st.change(r.Context(), id, &o, func(o Order) (*Event, error) {
			switch {
			case o.Status == StatusCancelled:
				return nil, ErrAlreadyCancelled
			case o.CancelRequested:
				return nil, nil
			}
			return &Event{Type: EventCancelRequested}, nil
		})
		if err != nil {
			return errs.HTTP(err)
		}
		if o.Status == StatusConfirmed {
			if err := saga.Start(r.Context(), o.ID+cancelSuffix, CancelInput(o)); err != nil {
				return err
			}
		}
		httpapi.WriteVersioned(w, http.StatusAccepted, o.Version, o)
		return nil
	})
}
