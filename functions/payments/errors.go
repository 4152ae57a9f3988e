package payments

import (
	"net/http"

	"github.com/shop-serverless/shop/shared/errmap"
)

// Domain errors. The steps report them to Step Functions by name:
// PaymentDeclined is final (the saga releases the stock and cancels),
// PaymentUnavailable transient (retried, then compensated), PaymentCancelled
// final (a charge that arrived after the order's payment was closed by a
// refund: it must not charge).
var (
	ErrDeclined         = errmap.New("PaymentDeclined", "payment declined")
	ErrUnavailable      = errmap.New("PaymentUnavailable", "payment provider unavailable")
	ErrCancelled        = errmap.New("PaymentCancelled", "the order's payment was closed by a refund")
	ErrNotFound         = errmap.New("PaymentNotFound", "payment not found")
	ErrInvalidStepInput = errmap.New("InvalidStepInput", "invalid step input")
)

var errs = errmap.Table{
	{Err: ErrDeclined, Status: http.StatusPaymentRequired, Detail: "the payment was declined"},
	// Only steps meet it; errmap wants a 4xx, and 424 says "a dependency failed".
	{Err: ErrUnavailable, Status: http.StatusFailedDependency, Detail: "the payment provider is unavailable; retry later"},
	{Err: ErrCancelled, Status: http.StatusConflict, Detail: "the order's payment was closed by a refund"},
	{Err: ErrNotFound, Status: http.StatusNotFound, Detail: "payment not found"},
	{Err: ErrInvalidStepInput, Status: http.StatusBadRequest, Detail: "the step's input is invalid"},
}
