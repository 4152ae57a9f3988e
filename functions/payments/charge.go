package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/store"
)

// Charge is the payments-charge step: it charges the order's amount once,
// whatever runs twice. Repeats answer as the first call did: the charge for
// CHARGED, ErrDeclined for DECLINED. ErrUnavailable (transient) when the
// provider gave no usable answer: the payment stays PENDING and a retry
// calls the provider again with the same idempotency key, so it never
// charges twice. ErrCancelled (final) once a refund closed the payment: a
// charge arriving after the compensation must not charge.
func Charge(st *Store, provider Provider) func(context.Context, ChargeIn) (ChargeOut, error) {
	return func(ctx context.Context, in ChargeIn) (ChargeOut, error) {
		if err := in.Validate(); err != nil {
			return ChargeOut{}, err
		}
		amount := in.Amount
		p, err := st.create(ctx, Payment{OrderID: in.OrderID, UserID: in.UserID, Status: StatusPending, Amount: &amount})
		if errors.Is(err, store.ErrAlreadyExists) {
			p, err = st.Get(ctx, in.OrderID)
		}
		if err != nil {
			return ChargeOut{}, err
		}
		if p.Status != StatusPending {
			return chargeAnswer(ctx, p, provider)
		}

		// Count the call before making it, on a payment still PENDING: a
		// refund that closed it meanwhile stops the charge here.
		p, err = st.move(ctx, in.OrderID, expression.Add(expression.Name("attempts"), expression.Value(1)), StatusPending)
		if errors.Is(err, errStatusMoved) {
			return chargeAnswer(ctx, p, provider)
		}
		if err != nil {
			return ChargeOut{}, err
		}
		// The amount recorded by the first call is charged, and later refunded.
		ref, err := provider.Charge(ctx, in.OrderID, *p.Amount, in.PaymentToken)
		switch {
		case errors.Is(err, ErrDeclined):
			p, err = st.moveAnnounced(ctx, p, StatusDeclined, nil, StatusPending)
			if errors.Is(err, errStatusMoved) {
				return chargeAnswer(ctx, p, provider)
			}
			if err != nil {
				return ChargeOut{}, err
			}
			return ChargeOut{}, ErrDeclined
		case err != nil:
			return ChargeOut{}, err // ErrUnavailable
		}
		p, err = st.moveAnnounced(ctx, p, StatusCharged, map[string]string{"providerRef": ref}, StatusPending)
		if errors.Is(err, errStatusMoved) {
			return chargeAnswer(ctx, p, provider)
		}
		if err != nil {
			return ChargeOut{}, err
		}
		return ChargeOut{OrderID: p.OrderID, Status: StatusCharged, ProviderRef: p.ProviderRef}, nil
	}
}

// chargeAnswer is the answer to a charge that found the payment decided.
//
// NOT_CHARGED after a charge call was made (attempts > 0) needs care. The
// timeline: the charge reads PENDING and calls the provider; a refund,
// meanwhile, gets "no charge" from the provider and closes the payment
// NOT_CHARGED; then the provider charges. The charge call that raced the
// refund finds NOT_CHARGED when it records its result, and so does any
// retry of it: both refund the charge themselves (idempotent: one refund
// per order at the provider) before answering ErrCancelled, so that money
// taken for a closed payment always goes back.
func chargeAnswer(ctx context.Context, p Payment, provider Provider) (ChargeOut, error) {
	switch p.Status {
	case StatusCharged:
		return ChargeOut{OrderID: p.OrderID, Status: StatusCharged, ProviderRef: p.ProviderRef}, nil
	case StatusDeclined:
		return ChargeOut{}, ErrDeclined
	case StatusNotCharged:
		if p.Attempts > 0 && p.Amount != nil {
			ref, err := provider.Refund(ctx, p.OrderID, p.Amount.Amount)
			switch {
			case errors.Is(err, errNotCharged):
			case err != nil:
				return ChargeOut{}, err // ErrUnavailable: retried, and refunded then
			default:
				log.FromContext(ctx).LogAttrs(ctx, slog.LevelWarn, "payments: a charge landed after its payment was closed; refunded",
					slog.String("orderId", p.OrderID), slog.String("refundRef", ref))
			}
		}
		return ChargeOut{}, ErrCancelled
	case StatusRefunded:
		return ChargeOut{}, ErrCancelled
	}
	return ChargeOut{}, fmt.Errorf("payment %s: unexpected status %q", p.OrderID, p.Status)
}
