package tests

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/servicetoken"
)

// The access-control sweep (issue 11): every HTTP route of the manifests,
// called through the API Gateway URL with every kind of wrong credential,
// each expecting the verdict its manifest declares. Nothing here names a
// route: a new function.yaml is swept as it is.
//
// What a caller sees (README, Who checks what):
//   - a protected route without Authorization: 401, from API Gateway
//     before the authorizer;
//   - a token the authorizer refuses (garbage, expired, from an issuer whose
//     published policy does not allow what it claims): 403
//     {"message":"Forbidden"}, which is how an HTTP API answers a Lambda
//     authorizer's deny. Neither gateway answer can be a problem body: an
//     HTTP API has no gateway responses to customise;
//   - a genuine token without the route's scope, or for someone else's
//     resource: 403 problem, from the function;
//   - a route with auth none: whatever it answers without a token, the same
//     with any token (a 4xx as a problem body).
//
// The simulator of the payment provider (a localOnly service, auth none)
// checks its own API key and answers in the provider's own error format:
// it is swept as a none route, with status only.

// pathParamRE matches a route's {param} placeholders.
var pathParamRE = regexp.MustCompile(`\{[^}]+\}`)

// sweepRoute is one route with what its sweep needs.
type sweepRoute struct {
	fn        *manifest.Function
	localOnly bool
	path      string // placeholders filled in
	owned     bool   // the path's {id} is a user's, or a user's order
}

type sweepCase struct {
	name    string
	headers []string
	want    int
	gateway bool // answered by API Gateway ({"message":...}), not a problem body
	// control: the rightful caller, who must get past the door (neither
	// 401 nor 403, nor a 5xx), so that the refusals above prove something.
	control bool
}

func TestAccessSweep(t *testing.T) {
	t.Parallel()
	skipOnKnative(t, "the sweep expects API Gateway's answers in front of the functions")
	set := manifests(t)

	// A customer with a confirmed order (so that its payment exists), and
	// another customer.
	owner, other := newShopper(t), newShopper(t)
	o := mustPlace(t, owner, "tok_visa", line(newProduct(t, 2).ID, 1))
	awaitEnd(t, owner, o.ID, "CONFIRMED", "")
	// The owner's own call to a route of the order (the control case of
	// its cancel) may start its compensation: the run's end checks want
	// every order at rest, so the sweep waits for it.
	t.Cleanup(func() {
		if getOrder(t, owner, o.ID).Status != "CONFIRMED" {
			awaitOrder(t, owner, o.ID, "CANCELLED")
		}
	})

	routes := sweepRoutes(t, set, owner.ID, o.ID)
	aud := naming.Audience(prefix())
	now := time.Now()
	keys := map[string]issuerKey{}
	for _, iss := range set.Issuers() {
		kid, key := activeKey(t, iss.Service)
		keys[iss.Service] = issuerKey{kid: kid, key: key}
	}
	mint := func(issuer, kind, sub string, scopes []string, iat, exp time.Time) string {
		k := keys[issuer]
		c := map[string]any{
			"iss": naming.Issuer(prefix(), issuer), "sub": sub, "aud": aud, "kind": kind,
			"iat": iat.Unix(), "nbf": iat.Unix(), "exp": exp.Unix(), "jti": fmt.Sprintf("sweep-%d", time.Now().UnixNano()),
		}
		if len(scopes) > 0 {
			c["scope"] = strings.Join(scopes, " ")
		}
		tok := signEd(k.key, map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": k.kid}, c)
		used.add("sweep token", tok)
		return tok
	}
	valid := func(issuer, kind, sub string, scopes ...string) string {
		return mint(issuer, kind, sub, scopes, now, now.Add(5*time.Minute))
	}
	expired := func(issuer, kind, sub string, scopes ...string) string {
		return mint(issuer, kind, sub, scopes, now.Add(-10*time.Minute), now.Add(-5*time.Minute))
	}
	userIssuer := naming.UserTokenService
	operator := naming.OperatorIssuer
	allScopes := declaredScopes(set)

	for _, rt := range routes {
		h := rt.fn.HTTP
		var cases []sweepCase
		switch {
		case h.Auth == manifest.AuthNone:
			// Whatever the route answers without a token, it answers with
			// any: auth none means no token changes the verdict.
			cases = []sweepCase{
				{name: "garbage token", headers: bearer("garbage")},
				{name: "expired token", headers: bearer(expired(userIssuer, servicetoken.KindUser, owner.ID))},
				{name: "user token", headers: bearer(owner.Token)},
				{name: "operator token", headers: bearer(valid(operator, servicetoken.KindService, operator, allScopes...))},
			}
		case h.Auth == manifest.AuthUser:
			cases = []sweepCase{
				{name: "expired token", headers: bearer(expired(userIssuer, servicetoken.KindUser, owner.ID)), want: http.StatusForbidden, gateway: true},
				// A genuine service token, but with none of the scopes that
				// open a user's resource to a service (<service>:read of the
				// route's own service): the route is the user's.
				{name: "service token without the route's scope", headers: bearer(valid(operator, servicetoken.KindService, operator, scopesOutside(allScopes, rt.fn.Service)...)), want: http.StatusForbidden},
			}
			cases = append(cases, sweepCase{name: "control: the owner's token", headers: bearer(owner.Token), control: true})
			if rt.owned {
				cases = append(cases, sweepCase{name: "another user's token", headers: bearer(other.Token), want: http.StatusForbidden})
			}
			for _, iss := range set.Issuers() {
				if !slices.Contains(iss.Policy.Kinds, servicetoken.KindUser) {
					cases = append(cases, sweepCase{
						name:    "user token from issuer " + iss.Service + ", which may not mint them",
						headers: bearer(valid(iss.Service, servicetoken.KindUser, owner.ID)), want: http.StatusForbidden, gateway: true,
					})
				}
			}
		default:
			scope := h.Scope()
			cases = []sweepCase{
				{name: "expired token", headers: bearer(expired(operator, servicetoken.KindService, operator, scope)), want: http.StatusForbidden, gateway: true},
				{name: "user token", headers: bearer(owner.Token), want: http.StatusForbidden},
				{name: "control: a service token with the scope", headers: bearer(valid(operator, servicetoken.KindService, operator, scope)), control: true},
				{name: "service token without the route's scope", headers: bearer(valid(operator, servicetoken.KindService, operator, without(allScopes, scope)...)), want: http.StatusForbidden},
			}
			for _, iss := range set.Issuers() {
				if mayGrant(iss.Policy, scope) {
					continue
				}
				sub := iss.Policy.Subject
				if sub == "" {
					sub = iss.Service
				}
				cases = append(cases, sweepCase{
					name:    fmt.Sprintf("%s from issuer %s, which may not grant it", scope, iss.Service),
					headers: bearer(valid(iss.Service, servicetoken.KindService, sub, scope)), want: http.StatusForbidden, gateway: true,
				})
			}
		}
		if h.Auth != manifest.AuthNone {
			cases = append(cases,
				sweepCase{name: "no token", want: http.StatusUnauthorized, gateway: true},
				sweepCase{name: "garbage token", headers: bearer("garbage"), want: http.StatusForbidden, gateway: true},
			)
		}
		t.Run(h.RouteKey(), func(t *testing.T) {
			t.Parallel()
			baseline := 0
			if h.Auth == manifest.AuthNone {
				r := sweepCall(t, rt, nil)
				baseline = r.Status
				t.Logf("%s %s without a token: %d", h.Method, rt.path, r.Status)
				if r.Status >= 500 {
					t.Fatalf("%s without a token: status %d: %s", rt.path, r.Status, r.Body)
				}
				checkSweepBody(t, rt, sweepCase{want: baseline}, r)
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					if c.want == 0 {
						c.want = baseline
					}
					r := sweepCall(t, rt, c.headers)
					t.Logf("%s %s: %d", h.Method, rt.path, r.Status)
					if c.control {
						if r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden || r.Status >= 500 {
							t.Fatalf("%s %s: status %d for the rightful caller; body: %s", h.Method, rt.path, r.Status, r.Body)
						}
						c.want = r.Status
						if h.Method == http.MethodGet {
							checkPrivateRead(t, rt, c.headers, r)
						}
					}
					if r.Status != c.want {
						t.Fatalf("%s %s: status %d, want %d; body: %s", h.Method, rt.path, r.Status, c.want, r.Body)
					}
					checkSweepBody(t, rt, c, r)
				})
			}
		})
	}
}

type issuerKey struct {
	kid string
	key ed25519.PrivateKey
}

// sweepRoutes is every HTTP route of the manifests, its path parameters
// filled with the owner's id or order where the route is a user's (its
// path starts /v1/users/{id} or /v1/orders/{id}), else a made-up id.
func sweepRoutes(t *testing.T, set *manifest.Set, userID, orderID string) []sweepRoute {
	t.Helper()
	var out []sweepRoute
	for _, fn := range set.Functions() {
		if fn.Kind != manifest.KindHTTP || fn.HTTP == nil {
			continue
		}
		rt := sweepRoute{fn: fn, localOnly: set.Service(fn.Service).LocalOnly}
		id := "sweep-made-up-id"
		switch {
		case strings.HasPrefix(fn.HTTP.Path, "/v1/users/{"):
			id, rt.owned = userID, true
		case strings.HasPrefix(fn.HTTP.Path, "/v1/orders/{"):
			id, rt.owned = orderID, true
		}
		rt.path = pathParamRE.ReplaceAllString(fn.HTTP.Path, id)
		out = append(out, rt)
	}
	if len(out) == 0 {
		t.Fatal("the manifests declare no HTTP route")
	}
	return out
}

// sweepCall calls the route with a minimal body: the verdict on the
// credentials comes before any validation of it. A write carries a fresh
// Idempotency-Key, as every client's does: the routes that require one
// (shared/idempotency, Required) check the header's presence before the
// handler's authorization (authentication is done by then), and the sweep
// is about the authorization.
func sweepCall(t *testing.T, rt sweepRoute, headers []string) response {
	t.Helper()
	var body any
	switch rt.fn.HTTP.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		body = "{}"
		headers = append(slices.Clone(headers), "Idempotency-Key", fmt.Sprintf("sweep-%d", time.Now().UnixNano()))
	}
	return call(t, rt.fn.HTTP.Method, rt.path, body, headers...)
}

// checkPrivateRead checks what the rightful caller's read of a route with
// a token carries (issue 13): a GET with auth other than none answers
// Cache-Control "private, no-cache" (no shared cache may keep one user's
// data for another, and the caller's own revalidates), with an ETag that a
// second call's If-None-Match turns into a 304 without a body. The owner's
// reads of their own user or order are 200: anything else would leave the
// check unproved.
func checkPrivateRead(t *testing.T, rt sweepRoute, headers []string, r response) {
	t.Helper()
	if rt.fn.HTTP.Auth == manifest.AuthNone {
		return
	}
	if r.Status != http.StatusOK {
		if rt.owned {
			t.Fatalf("GET %s: status %d for its owner, want 200 (to check its caching headers); body: %s", rt.path, r.Status, r.Body)
		}
		return
	}
	etag := r.Header.Get("ETag")
	if cc := r.Header.Get("Cache-Control"); cc != "private, no-cache" || etag == "" {
		t.Fatalf("GET %s with a token: Cache-Control %q, ETag %q; want \"private, no-cache\" and an ETag", rt.path, cc, etag)
	}
	// The sweep's other cases run beside this one, and the owner's cancel
	// may be changing the order (its status, its payment, a notification)
	// right now: a 200 with another ETag is a resource that moved between
	// the two calls, read afresh and tried again; a 200 with the same ETag
	// is the failure.
	for attempt := 1; ; attempt++ {
		again := call(t, http.MethodGet, rt.path, nil, append(slices.Clone(headers), "If-None-Match", etag)...)
		if again.Status == http.StatusOK && again.Header.Get("ETag") != etag && attempt < 5 {
			etag = again.Header.Get("ETag")
			continue
		}
		if again.Status != http.StatusNotModified || len(again.Body) != 0 || again.Header.Get("ETag") != etag ||
			again.Header.Get("Cache-Control") != "private, no-cache" {
			t.Fatalf("GET %s with If-None-Match %s: %d, ETag %q, Cache-Control %q, body %q; want 304, the same ETag, private, no body",
				rt.path, etag, again.Status, again.Header.Get("ETag"), again.Header.Get("Cache-Control"), again.Body)
		}
		t.Logf("GET %s: private, no-cache, ETag %s, 304 on If-None-Match", rt.path, etag)
		return
	}
}

// checkSweepBody wants a 4xx from a function as a problem body, and one
// from API Gateway as its own {"message": ...}.
func checkSweepBody(t *testing.T, rt sweepRoute, c sweepCase, r response) {
	t.Helper()
	switch {
	case r.Status < 400 || rt.localOnly:
	case c.gateway:
		var m struct {
			Message string `json:"message"`
		}
		if err := json.Unmarshal(r.Body, &m); err != nil || m.Message != http.StatusText(r.Status) {
			t.Fatalf("API Gateway's %d body %q, want {\"message\":%q}", r.Status, r.Body, http.StatusText(r.Status))
		}
	default:
		expect(t, r, c.want)
	}
}

// declaredScopes is every scope the manifests name: the routes' and those
// the issuers may grant.
func declaredScopes(set *manifest.Set) []string {
	var out []string
	for _, fn := range set.Functions() {
		if fn.HTTP != nil && fn.HTTP.Scope() != fn.HTTP.Auth {
			out = append(out, fn.HTTP.Scope())
		}
	}
	for _, iss := range set.Issuers() {
		out = append(out, iss.Policy.Scopes...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func without(scopes []string, scope string) []string {
	return slices.DeleteFunc(slices.Clone(scopes), func(s string) bool { return s == scope })
}

// scopesOutside drops the scopes of service (<service>:...), any of which
// may open the service's user-owned routes to a service caller.
func scopesOutside(scopes []string, service string) []string {
	return slices.DeleteFunc(slices.Clone(scopes), func(s string) bool { return strings.HasPrefix(s, service+":") })
}

// mayGrant says whether an issuer with policy p may mint a service token
// with scope.
func mayGrant(p servicetoken.Policy, scope string) bool {
	return slices.Contains(p.Kinds, servicetoken.KindService) && (p.AnyScope || slices.Contains(p.Scopes, scope))
}
