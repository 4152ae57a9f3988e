package orders

import (
	"net/http"

	"github.com/shop-serverless/shop/shared/errmap"
)

// Domain errors. Handlers answer them through errs, with the status and
// detail below; the saga's steps report them to Step Functions by name
// (mark-confirmed's "CancelRequested" enters the compensation as
// CANCELLED_BY_USER, "OrderCancelled" and "OrderNotFound" are final).
var (
	ErrOrderNotFound    = errmap.New("OrderNotFound", "order not found")
	ErrOrderExists      = errmap.New("OrderExists", "order exists already")
	ErrCancelRequested  = errmap.New("CancelRequested", "the customer asked to cancel the order")
	ErrOrderCancelled   = errmap.New("OrderCancelled", "the order is cancelled")
	ErrAlreadyCancelled = errmap.New("AlreadyCancelled", "the order is cancelled already")
	ErrUnknownUser      = errmap.New("UnknownUser", "user not found")
	ErrUnknownProduct   = errmap.New("UnknownProduct", "product not found")
	ErrMixedCurrencies  = errmap.New("MixedCurrencies", "products priced in different currencies")
	ErrTotalOutOfRange  = errmap.New("TotalOutOfRange", "order total out of range")
	ErrKeyReused        = errmap.New("IdempotencyKeyReused", "idempotency key used for another order")
	ErrInvalidCursor    = errmap.New("InvalidCursor", "invalid list cursor")
	ErrInvalidReason    = errmap.New("InvalidCancelReason", "not a cancel reason")
)

var errs = errmap.Table{
	{Err: ErrOrderNotFound, Status: http.StatusNotFound, Detail: "order not found"},
	// Place answers it only to a racing retry, which then reads the order.
	{Err: ErrOrderExists, Status: http.StatusConflict, Detail: "the order exists already"},
	{Err: ErrCancelRequested, Status: http.StatusConflict, Detail: "the customer asked to cancel this order"},
	{Err: ErrOrderCancelled, Status: http.StatusConflict, Detail: "the order is cancelled"},
	{Err: ErrAlreadyCancelled, Status: http.StatusConflict, Detail: "the order is cancelled already"},
	{Err: ErrUnknownUser, Status: http.StatusUnprocessableEntity, Detail: "the user placing the order does not exist"},
	{Err: ErrUnknownProduct, Status: http.StatusUnprocessableEntity, Detail: "a product of the order is not in the catalog", Field: "items"},
	{Err: ErrMixedCurrencies, Status: http.StatusUnprocessableEntity, Detail: "the products are priced in different currencies: place one order per currency", Field: "items"},
	{Err: ErrTotalOutOfRange, Status: http.StatusUnprocessableEntity, Detail: "the order total is too large", Field: "items"},
	{Err: ErrKeyReused, Status: http.StatusUnprocessableEntity, Detail: "this Idempotency-Key was used for a different order: use a new key for a new order"},
	{Err: ErrInvalidCursor, Status: http.StatusBadRequest, Detail: "cursor is not one this API returned", Field: "cursor"},
	{Err: ErrInvalidReason, Status: http.StatusBadRequest, Detail: "reason must be OUT_OF_STOCK, PAYMENT_DECLINED, PAYMENT_UNAVAILABLE, CANCELLED_BY_USER or INTERNAL", Field: "reason"},
}
