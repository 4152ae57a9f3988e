package payments

import (
	"context"
	"errors"
	"fmt"

	"github.com/shop-serverless/shop/shared/store"
)

// maxStatusRaces bounds how often a refund reads the payment again after a
// charge moved it under the refund; each move is forward, so a few suffice.
const maxStatusRaces = 5

// Refund is the payments-refund step: it gives back what was charged, at
// most once and never more. CHARGED, and PENDING too (a charge whose answer
// was lost may have gone through), ask the provider to refund the recorded
// amount by the order's reference: REFUNDED when it did, NOT_CHARGED when
// it held no charge. DECLINED and an order without a payment answer
// NOT_CHARGED without a call; the latter is recorded, so that a charge
// arriving later is refused (ErrCancelled). ErrUnavailable (transient) when
// the provider gave no usable answer.
func Refund(st *Store, provider Provider) func(context.Context, RefundIn) (RefundOut, error) {
	return func(ctx context.Context, in RefundIn) (RefundOut, error) {
		if err := checkOrderID(in.OrderID); err != nil {
			return RefundOut{}, err
		}
		for range maxStatusRaces {
			p, err := st.Get(ctx, in.OrderID)
			if errors.Is(err, ErrNotFound) {
				_, err = st.create(ctx, Payment{OrderID: in.OrderID, Status: StatusNotCharged})
				if errors.Is(err, store.ErrAlreadyExists) {
					continue // a charge started in between
				}
				if err != nil {
					return RefundOut{}, err
				}
				return RefundOut{OrderID: in.OrderID, Status: StatusNotCharged}, nil
			}
			if err != nil {
				return RefundOut{}, err
			}
			switch p.Status {
			case StatusDeclined, StatusNotCharged:
				return RefundOut{OrderID: in.OrderID, Status: StatusNotCharged}, nil
			case StatusRefunded:
				return RefundOut{OrderID: in.OrderID, Status: StatusRefunded}, nil
			}

			ref, err := provider.Refund(ctx, in.OrderID, p.Amount.Amount)
			switch {
			case errors.Is(err, errNotCharged) && p.Status == StatusCharged:
				return RefundOut{}, fmt.Errorf("payment %s: CHARGED as %s, but the provider holds no charge", in.OrderID, p.ProviderRef)
			case errors.Is(err, errNotCharged):
				_, err = st.move(ctx, in.OrderID, setStatus(StatusNotCharged), StatusPending)
			case err != nil:
				return RefundOut{}, err // ErrUnavailable
			default:
				_, err = st.moveAnnounced(ctx, p, StatusRefunded, map[string]string{"refundRef": ref}, StatusCharged, StatusPending)
			}
			if errors.Is(err, errStatusMoved) {
				continue // a charge recorded its result meanwhile: decide again
			}
			if err != nil {
				return RefundOut{}, err
			}
			if ref == "" {
				return RefundOut{OrderID: in.OrderID, Status: StatusNotCharged}, nil
			}
			return RefundOut{OrderID: in.OrderID, Status: StatusRefunded}, nil
		}
		return RefundOut{}, fmt.Errorf("refund %s: the payment kept changing under the step", in.OrderID)
	}
}
