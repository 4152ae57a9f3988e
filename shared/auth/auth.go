// Package auth enforces, inside each function, the authorization its route
// declares in function.yaml (passed as SHOP_AUTH), using the principal the
// API Gateway Lambda authorizer verified.
//
//	h = auth.Require(cfg.Auth, h) // "none", "user" or "scope:inventory:write"
//
// The split is deliberate: the authorizer only authenticates (is the bearer
// token genuine, unexpired, for this API?), so API Gateway may cache its
// answer per token for every route. Whether this principal may call this
// route (a scope) or touch this resource (ownership) is decided here, next
// to the data, with a problem+json 403 instead of API Gateway's bare one.
package auth

import (
	"context"
	"net/http"
	"strings"

	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/runtime"
)

// Principal kinds (the token's "kind" claim).
const (
	KindUser    = "user"
	KindService = "service"
)

// Keys of the authorizer context (requestContext.authorizer.lambda).
const (
	ContextPrincipal = "principal"
	ContextKind      = "kind"
	ContextScopes    = "scopes"
	ContextIssuer    = "issuer"
)

// Principal is who the request acts for.
type Principal struct {
	Subject string   // user id for users, service name for services
	Kind    string   // KindUser or KindService
	Issuer  string   // token issuer
	Scopes  []string // granted scopes
}

// HasScope reports whether p was granted scope.
func (p Principal) HasScope(scope string) bool {
	for _, s := range p.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p (for tests and for runtimes that
// verify tokens themselves).
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the request's principal, if it has one.
func FromContext(ctx context.Context) (Principal, bool) {
	if p, ok := ctx.Value(principalKey{}).(Principal); ok {
		return p, true
	}
	return fromAuthorizer(ctx)
}

// fromAuthorizer reads the simple-response context the authorizer returned.
// API Gateway delivers it to the integration under
// requestContext.authorizer.lambda; nothing else can put it there, since only
// API Gateway may invoke the function.
func fromAuthorizer(ctx context.Context) (Principal, bool) {
	rc, ok := runtime.APIGatewayContext(ctx)
	if !ok || rc.Authorizer == nil || rc.Authorizer.Lambda == nil {
		return Principal{}, false
	}
	get := func(k string) string {
		s, _ := rc.Authorizer.Lambda[k].(string)
		return s
	}
	p := Principal{Subject: get(ContextPrincipal), Kind: get(ContextKind), Issuer: get(ContextIssuer), Scopes: strings.Fields(get(ContextScopes))}
	if p.Subject == "" || (p.Kind != KindUser && p.Kind != KindService) {
		return Principal{}, false
	}
	return p, true
}

// Require wraps next with the check its route declares: "none" lets every
// request through; "user" needs an authenticated principal (user or
// service: handlers then check ownership); "scope:<name>" needs a principal
// granted <name>. A level it does not know refuses every request: failing
// closed beats serving a route whose protection was mistyped.
func Require(level string, next http.Handler) http.Handler {
	scope, isScope := strings.CutPrefix(level, "scope:")
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		switch {
		case level == "none":
			next.ServeHTTP(w, r)
			return nil
		case level == "user" || (isScope && scope != ""):
		default:
			return &httpapi.Error{Status: http.StatusInternalServerError, Detail: "this route's authorization is misconfigured"}
		}
		p, ok := FromContext(r.Context())
		if !ok {
			e := httpapi.Errorf(http.StatusUnauthorized, "send a bearer token in the Authorization header")
			e.Header = http.Header{"WWW-Authenticate": []string{`Bearer realm="shop"`}}
			return e
		}
		if isScope && !p.HasScope(scope) {
			return httpapi.Errorf(http.StatusForbidden, "this operation needs the scope %q", scope)
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		return nil
	})
}

// SelfOrScope allows a user acting on their own resource (subject equals
// ownerID) or a principal holding scope (a service, say); anything else is a
// 403. Handlers call it once they know the resource's owner.
func SelfOrScope(ctx context.Context, ownerID, scope string) error {
	p, ok := FromContext(ctx)
	if !ok {
		return httpapi.Errorf(http.StatusUnauthorized, "send a bearer token in the Authorization header")
	}
	if (p.Kind == KindUser && p.Subject == ownerID) || (scope != "" && p.HasScope(scope)) {
		return nil
	}
	return httpapi.Errorf(http.StatusForbidden, "you may only access your own resources")
}
