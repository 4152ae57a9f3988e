// Package platform holds what the services share but none of them owns: the
// API Gateway Lambda authorizer (and, in its table, circuit-breaker state).
package platform

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/runtime"
	"github.com/shop-serverless/shop/shared/servicetoken"
)

// TokenVerifier is what the authorizer needs of servicetoken.Verifier.
type TokenVerifier interface {
	Verify(ctx context.Context, token string, requiredScopes ...string) (servicetoken.Claims, error)
}

// Authorizer authenticates API requests: a genuine, unexpired bearer token
// for this API, whoever it belongs to. It does not look at the route, so API
// Gateway can cache its answer per token for every route; each function then
// checks scopes and ownership itself (shared/auth).
//
// An invalid token is a deny (403); a verifier failure that is not about the
// token (the key set cannot be read) is returned as an error, which API
// Gateway turns into a 500: failing closed, and visible as an error rather
// than as a wave of 403s.
//
// Its log lines carry the API request's id (the one the function behind the
// route logs too) and the invocation's trace id; each invocation is counted
// (runtime.BeginInvocation), a verifier failure as an error.
func Authorizer(v TokenVerifier, logger *slog.Logger) func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	return func(ctx context.Context, req events.APIGatewayV2CustomAuthorizerV2Request) (_ events.APIGatewayV2CustomAuthorizerSimpleResponse, err error) {
		ctx, end := runtime.BeginInvocation(log.WithContext(ctx, logger), req.RequestContext.RequestID, "")
		logger := log.FromContext(ctx)
		defer func() {
			failed := 0
			if err != nil {
				failed = 1
			}
			end(failed)
		}()
		deny := events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}
		token, ok := bearer(req)
		if !ok {
			logger.InfoContext(ctx, "deny", "reason", "no bearer token", "routeKey", req.RouteKey)
			return deny, nil
		}
		claims, err := v.Verify(ctx, token)
		if errors.Is(err, servicetoken.ErrInvalid) {
			logger.InfoContext(ctx, "deny", "reason", err.Error(), "routeKey", req.RouteKey)
			return deny, nil
		}
		if err != nil {
			logger.ErrorContext(ctx, "verify token", "error", err, "routeKey", req.RouteKey)
			return deny, err
		}
		logger.InfoContext(ctx, "allow", "principal", claims.Subject, "kind", claims.Kind, "jti", claims.ID, "routeKey", req.RouteKey)
		p := claims.Principal()
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: p.AuthorizerContext()}, nil
	}
}

// bearer extracts the token from "Authorization: Bearer <token>" (the
// scheme is case-insensitive, RFC 9110 §11.1).
func bearer(req events.APIGatewayV2CustomAuthorizerV2Request) (string, bool) {
	h := ""
	for k, v := range req.Headers {
		if strings.EqualFold(k, "authorization") {
			h = v
		}
	}
	if h == "" && len(req.IdentitySource) > 0 {
		h = req.IdentitySource[0]
	}
	return servicetoken.FromBearer(h)
}
