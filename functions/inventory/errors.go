package inventory

import (
	"fmt"
	"net/http"

	"github.com/shop-serverless/shop/shared/errmap"
)

// Domain errors. Handlers answer them through errs, with the status and
// detail below; the saga steps report them to Step Functions by name (a
// Catch on "InsufficientStock" compensates, "ReservationNotCommitted" is
// retried: the commit has yet to run).
var (
	ErrNotFound                = errmap.New("ProductNotFound", "product not found")
	ErrSKUTaken                = errmap.New("SKUTaken", "sku already exists")
	ErrInsufficientStock       = errmap.New("InsufficientStock", "insufficient stock")
	ErrStockLimit              = errmap.New("StockLimitExceeded", "stock would exceed the limit")
	ErrBadCursor               = errmap.New("InvalidCursor", "invalid list cursor")
	ErrVersionMismatch         = errmap.New("ProductVersionMismatch", "product was changed by someone else")
	ErrHasReservations         = errmap.New("ProductReserved", "product has stock reserved for orders in flight")
	ErrReservationReleased     = errmap.New("ReservationReleased", "the order's reservation was released")
	ErrReservationNotFound     = errmap.New("ReservationNotFound", "the order holds no reserved stock")
	ErrReservationNotCommitted = errmap.New("ReservationNotCommitted", "the order's reservation is not committed yet")
	ErrInvalidStepInput        = errmap.New("InvalidStepInput", "invalid step input")
)

var errs = errmap.Table{
	{Err: ErrNotFound, Status: http.StatusNotFound, Detail: "product not found"},
	{Err: ErrSKUTaken, Status: http.StatusConflict, Detail: "a product with this sku exists already"},
	{Err: ErrInsufficientStock, Status: http.StatusConflict, Detail: "not enough stock: available stock cannot go below zero"},
	{Err: ErrStockLimit, Status: http.StatusConflict, Detail: fmt.Sprintf("stock would exceed %d", MaxStock)},
	{Err: ErrVersionMismatch, Status: http.StatusPreconditionFailed, Detail: "the product changed since you read it: fetch it again and retry with the new ETag"},
	{Err: ErrHasReservations, Status: http.StatusConflict, Detail: "the product has stock reserved for orders in flight: delete it once they are settled"},
	{Err: ErrBadCursor, Status: http.StatusBadRequest, Detail: "cursor is not one this API returned", Field: "cursor"},
	{Err: ErrReservationReleased, Status: http.StatusConflict, Detail: "the order's reservation was released"},
	{Err: ErrReservationNotFound, Status: http.StatusNotFound, Detail: "the order holds no reserved stock"},
	{Err: ErrReservationNotCommitted, Status: http.StatusConflict, Detail: "the order's reservation is not committed yet"},
	{Err: ErrInvalidStepInput, Status: http.StatusBadRequest, Detail: "the step's input is invalid"},
}
