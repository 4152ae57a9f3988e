// Package principal is who a request acts for, and the contract between the
// API Gateway Lambda authorizer and the functions behind it: the keys of the
// authorizer's simple-response context. It imports nothing of the shop, so
// the authorizer can state the contract without linking the HTTP edge.
//
//	ctx := principal.WithContext(ctx, p)   // shared/auth, once the token is verified
//	p, ok := principal.FromContext(ctx)    // handlers, idempotency (per-caller keys)
package principal

import (
	"context"
	"slices"
	"strings"
)

// Kinds of principal: the "kind" claim of the token it presented.
const (
	KindUser    = "user"
	KindService = "service"
)

// Principal is an authenticated caller.
type Principal struct {
	Subject string   // user id for users, service name for services
	Kind    string   // KindUser or KindService
	Issuer  string   // the token's issuer
	Scopes  []string // granted scopes
}

// HasScope reports whether p was granted scope.
func (p Principal) HasScope(scope string) bool { return slices.Contains(p.Scopes, scope) }

// ID names the caller uniquely across issuers ("shop-users/0190..."): per-
// caller state (idempotency records, rate limits) is keyed by it, so two
// callers can never share it, whatever subjects their issuers pick.
func (p Principal) ID() string { return p.Issuer + "/" + p.Subject }

// Keys of the authorizer's context, which API Gateway hands the function
// under requestContext.authorizer.lambda.
const (
	contextPrincipal = "principal"
	contextKind      = "kind"
	contextScopes    = "scopes"
	contextIssuer    = "issuer"
)

// AuthorizerContext is what the authorizer returns for p.
func (p Principal) AuthorizerContext() map[string]any {
	return map[string]any{
		contextPrincipal: p.Subject,
		contextKind:      p.Kind,
		contextScopes:    strings.Join(p.Scopes, " "),
		contextIssuer:    p.Issuer,
	}
}

// FromAuthorizerContext reads what AuthorizerContext wrote; ok is false when
// m holds no principal of a known kind.
func FromAuthorizerContext(m map[string]any) (Principal, bool) {
	get := func(k string) string {
		s, _ := m[k].(string)
		return s
	}
	p := Principal{Subject: get(contextPrincipal), Kind: get(contextKind), Issuer: get(contextIssuer), Scopes: strings.Fields(get(contextScopes))}
	if p.Subject == "" || (p.Kind != KindUser && p.Kind != KindService) {
		return Principal{}, false
	}
	return p, true
}

type contextKey struct{}

// WithContext returns ctx carrying p.
func WithContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, contextKey{}, p)
}

// FromContext returns the principal WithContext stored, if any. Only
// shared/auth stores one, after verifying the caller's token.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(contextKey{}).(Principal)
	return p, ok
}
