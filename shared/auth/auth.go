// Package auth authenticates the caller inside each function and enforces
// the authorization its route declares in function.yaml (passed as
// SHOP_AUTH):
//
//	h = auth.Require(cfg.Auth, verifier, h) // "none", "user" or "scope:inventory:write"
//
// The function verifies the bearer token itself, whatever sits in front of
// it. An invocation can arrive without API Gateway (anything in the account
// allowed lambda:InvokeFunction can send any event, authorizer context
// included), and on Knative nothing authenticates in front of the function
// at all. The API Gateway authorizer's context is only a hint: when present
// it must name the same principal the token does, or the request is refused.
//
// The split with the authorizer stays as it was: the authorizer only
// authenticates, so API Gateway may cache its answer per token for every
// route; whether this principal may call this route (a scope) or touch this
// resource (ownership, SelfOrScope) is decided here, next to the data, with
// a problem+json answer instead of API Gateway's bare one.
package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/principal"
	"github.com/shop-serverless/shop/shared/runtime"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/tracing"
)

// Verifier checks a bearer token: *servicetoken.Verifier. A rejection wraps
// servicetoken.ErrInvalid; any other error means the keys could not be read.
type Verifier interface {
	Verify(ctx context.Context, token string, requiredScopes ...string) (servicetoken.Claims, error)
}

// Require wraps next with the check its route declares: "none" lets every
// request through without looking for a token; "user" needs a verified
// principal (user or service: handlers then check ownership); "scope:<name>"
// needs a verified principal granted <name>. A level it does not know
// refuses every request: failing closed beats serving a route whose
// protection was mistyped.
func Require(level string, v Verifier, next http.Handler) http.Handler {
	scope, isScope := strings.CutPrefix(level, "scope:")
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		switch {
		case level == "none":
			next.ServeHTTP(w, r)
			return nil
		case v == nil, level != "user" && !(isScope && scope != ""):
			return &httpapi.Error{Status: http.StatusInternalServerError, Detail: "this route's authorization is misconfigured",
				Err: errors.New("auth: unknown level " + level + " or no verifier")}
		}
		p, err := authenticate(r, v)
		if err != nil {
			return err
		}
		if isScope && !p.HasScope(scope) {
			return httpapi.Errorf(http.StatusForbidden, "this operation needs the scope %q", scope)
		}
		next.ServeHTTP(w, r.WithContext(principal.WithContext(r.Context(), p)))
		return nil
	})
}

// authenticate verifies r's bearer token and holds the authorizer's
// context, if any, against it.
func authenticate(r *http.Request, v Verifier) (principal.Principal, error) {
	ctx := r.Context()
	token, ok := servicetoken.FromBearer(r.Header.Get("Authorization"))
	if !ok {
		return principal.Principal{}, unauthorized("send a bearer token in the Authorization header", "")
	}
	claims, err := v.Verify(ctx, token)
	if errors.Is(err, servicetoken.ErrInvalid) {
		e := unauthorized("the bearer token is not valid", "invalid_token")
		e.Err = err
		return principal.Principal{}, e
	}
	if err != nil {
		return principal.Principal{}, &httpapi.Error{Status: http.StatusServiceUnavailable,
			Detail: "tokens cannot be verified right now; retry later",
			Header: http.Header{"Retry-After": []string{"1"}}, Err: err}
	}
	p := claims.Principal()
	if hint, ok := authorizerHint(ctx); ok && !samePrincipal(hint, p) {
		// Only a forged invocation gets here: API Gateway passes on what the
		// authorizer derived from this very token.
		log.FromContext(ctx).LogAttrs(ctx, slog.LevelWarn, "auth: the authorizer context disagrees with the token; refused",
			slog.String("tokenPrincipal", p.ID()), slog.String("contextPrincipal", hint.ID()))
		return principal.Principal{}, unauthorized("the request's authorizer context does not match its token", "invalid_token")
	}
	if p.Kind == principal.KindUser {
		// Whose request this is, where a trace search finds it. A service
		// token says which service calls: the trace shows that already
		// (the caller's span is the parent).
		tracing.Annotate(ctx, tracing.AnnotationUserID, p.Subject)
	}
	return p, nil
}

// authorizerHint reads the principal the API Gateway authorizer passed on,
// when the request came through API Gateway with one.
func authorizerHint(ctx context.Context) (principal.Principal, bool) {
	rc, ok := runtime.APIGatewayContext(ctx)
	if !ok || rc.Authorizer == nil || rc.Authorizer.Lambda == nil {
		return principal.Principal{}, false
	}
	p, ok := principal.FromAuthorizerContext(rc.Authorizer.Lambda)
	if !ok {
		// Present but unreadable is a disagreement, not an absence.
		return principal.Principal{Subject: "(unreadable)"}, true
	}
	return p, true
}

func samePrincipal(a, b principal.Principal) bool {
	return a.Subject == b.Subject && a.Kind == b.Kind && a.Issuer == b.Issuer && slices.Equal(a.Scopes, b.Scopes)
}

func unauthorized(detail, bearerError string) *httpapi.Error {
	challenge := `Bearer realm="shop"`
	if bearerError != "" {
		challenge += `, error="` + bearerError + `"`
	}
	e := httpapi.Errorf(http.StatusUnauthorized, "%s", detail)
	e.Header = http.Header{"WWW-Authenticate": []string{challenge}}
	return e
}

// SelfOrScope allows a user acting on their own resource (subject equals
// ownerID) or a principal holding scope (a service, say); anything else is a
// 403. Handlers call it once they know the resource's owner.
func SelfOrScope(ctx context.Context, ownerID, scope string) error {
	p, ok := principal.FromContext(ctx)
	if !ok {
		return unauthorized("send a bearer token in the Authorization header", "")
	}
	if (p.Kind == principal.KindUser && p.Subject == ownerID) || (scope != "" && p.HasScope(scope)) {
		return nil
	}
	return httpapi.Errorf(http.StatusForbidden, "you may only access your own resources")
}

// ServiceCaller is the check a step or event endpoint served over HTTP
// (Knative) puts on its caller: a verified service token granted scope.
// On Lambda no such check runs: who may invoke a function is IAM's
// decision (lambda:InvokeFunction).
func ServiceCaller(v Verifier, scope string) runtime.CallerCheck {
	return func(r *http.Request) (int, string) {
		p, err := authenticate(r, v)
		var e *httpapi.Error
		switch {
		case errors.As(err, &e):
			level := slog.LevelInfo
			if e.Status >= 500 {
				level = slog.LevelError
			}
			slog.Log(r.Context(), level, "auth: caller refused", "status", e.Status, "error", err)
			return e.Status, e.Detail
		case err != nil: // authenticate returns only *httpapi.Error; fail closed all the same
			return http.StatusInternalServerError, "the caller could not be checked"
		case p.Kind != principal.KindService:
			return http.StatusForbidden, "only services may call this endpoint"
		case !p.HasScope(scope):
			return http.StatusForbidden, "this endpoint needs the scope " + scope
		}
		return 0, ""
	}
}
