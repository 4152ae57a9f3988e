package users

import (
	"net/http"

	"github.com/shop-serverless/shop/shared/apidoc"
	"github.com/shop-serverless/shop/shared/httpapi"
)

// Operations documents the service's HTTP functions for the OpenAPI
// document (shared/openapi; make generate). Their routes and auth are in
// their function.yaml.
func Operations() []apidoc.Operation {
	return []apidoc.Operation{
		{
			Function: "users-register", Request: RegisterRequest{}, Response: User{}, Status: http.StatusCreated,
			Statuses:    errs.Statuses(ErrEmailTaken),
			Idempotency: apidoc.OptionalIdempotencyKey, ETag: true, Location: true,
		},
		{
			// 401: a wrong email or password; 429 with Retry-After: too many failures.
			Function: "users-login", Request: LoginRequest{}, Response: LoginResponse{}, Status: http.StatusOK,
			Statuses:     append(errs.Statuses(ErrLoginThrottled), http.StatusUnauthorized),
			CacheControl: "no-store",
		},
		{
			// 403: someone else's profile (auth.SelfOrScope).
			Function: "users-get", Response: User{}, Status: http.StatusOK,
			Statuses: append(errs.Statuses(ErrNotFound), http.StatusForbidden), ETag: true, CacheControl: httpapi.CachePrivate, NotModified: true,
		},
		{
			Function: "users-update", Request: Patch{}, Response: User{}, Status: http.StatusOK,
			Statuses: append(errs.Statuses(ErrNotFound, ErrVersionMismatch), http.StatusForbidden),
			IfMatch:  true, ETag: true,
		},
	}
}
