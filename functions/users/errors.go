package users

import (
	"net/http"

	"github.com/shop-serverless/shop/shared/errmap"
)

// Domain errors. Handlers answer them through errs, with the status and
// detail below; a saga step would report them to Step Functions by name.
var (
	ErrNotFound        = errmap.New("UserNotFound", "user not found")
	ErrEmailTaken      = errmap.New("EmailTaken", "email already registered")
	ErrVersionMismatch = errmap.New("UserVersionMismatch", "user was changed by someone else")
	ErrLoginThrottled  = errmap.New("LoginThrottled", "too many failed logins")
)

var errs = errmap.Table{
	{Err: ErrNotFound, Status: http.StatusNotFound, Detail: "user not found"},
	{Err: ErrEmailTaken, Status: http.StatusConflict, Detail: "an account with this email exists already"},
	{Err: ErrVersionMismatch, Status: http.StatusPreconditionFailed, Detail: "the user changed since you read it: fetch it again and retry with the new ETag"},
	// Login answers ErrLoginThrottled itself, with Retry-After; this entry is its status.
	{Err: ErrLoginThrottled, Status: http.StatusTooManyRequests, Detail: "too many failed logins; try again later"},
}
