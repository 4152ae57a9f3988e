package notifications

import (
	"net/http"

	"github.com/shop-serverless/shop/shared/errmap"
)

// Domain errors. Handlers answer them through errs, with the status and
// detail below.
var (
	ErrInvalidCursor = errmap.New("InvalidCursor", "invalid list cursor")
)

var errs = errmap.Table{
	{Err: ErrInvalidCursor, Status: http.StatusBadRequest, Detail: "cursor is not one this API returned", Field: "cursor"},
}
