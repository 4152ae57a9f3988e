package main

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	gtypes "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"

	"github.com/shop-serverless/shop/shared/manifest"
)

func httpFn(name, method, path, auth string) *manifest.Function {
	return &manifest.Function{Name: name, Kind: manifest.KindHTTP, HTTP: &manifest.HTTPTrigger{Method: method, Path: path, Auth: auth}}
}

func TestWantRoutes(t *testing.T) {
	fns := []*manifest.Function{
		httpFn("users-get", "GET", "/v1/users/{id}", "user"),
		httpFn("users-register", "POST", "/v1/users", "none"),
		httpFn("inventory-create", "POST", "/v1/products", "scope:inventory:write"),
		{Name: "orders-confirm", Kind: manifest.KindStep},            // no route
		{Name: "platform-authorizer", Kind: manifest.KindAuthorizer}, // no route either
	}
	integrations := map[string]string{"users-get": "i1", "users-register": "i2", "inventory-create": "i3"}
	got, err := wantRoutes("shop", fns, integrations, "auth1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]routeSpec{
		"GET /v1/users/{id}": {key: "GET /v1/users/{id}", target: "integrations/i1", authType: gtypes.AuthorizationTypeCustom, authorizerID: "auth1", label: "shop-users-get"},
		"POST /v1/users":     {key: "POST /v1/users", target: "integrations/i2", authType: gtypes.AuthorizationTypeNone, label: "shop-users-register"},
		"POST /v1/products":  {key: "POST /v1/products", target: "integrations/i3", authType: gtypes.AuthorizationTypeCustom, authorizerID: "auth1", label: "shop-inventory-create"},
	}
	if !maps.Equal(got, want) {
		t.Errorf("wantRoutes =\n%+v\nwant\n%+v", got, want)
	}
}

func TestWantRoutesNeedsAnAuthorizerForProtectedRoutes(t *testing.T) {
	fns := []*manifest.Function{httpFn("users-get", "GET", "/v1/users/{id}", "user")}
	_, err := wantRoutes("shop", fns, map[string]string{"users-get": "i1"}, "")
	if err == nil || !strings.Contains(err.Error(), "authorizer") {
		t.Errorf("err = %v, want one naming the missing authorizer", err)
	}
	fns = []*manifest.Function{httpFn("users-register", "POST", "/v1/users", "none")}
	if _, err := wantRoutes("shop", fns, map[string]string{"users-register": "i1"}, ""); err != nil {
		t.Errorf("auth none without an authorizer: %v", err)
	}
}

func TestRouteAction(t *testing.T) {
	want := map[string]routeSpec{
		"GET /a": {key: "GET /a", target: "integrations/i1", authType: gtypes.AuthorizationTypeNone},
		"GET /b": {key: "GET /b", target: "integrations/i2", authType: gtypes.AuthorizationTypeCustom, authorizerID: "au1"},
	}
	route := func(key, target string, auth gtypes.AuthorizationType, authorizerID string) gtypes.Route {
		r := gtypes.Route{RouteKey: aws.String(key), Target: aws.String(target), AuthorizationType: auth}
		if authorizerID != "" {
			r.AuthorizerId = aws.String(authorizerID)
		}
		return r
	}
	none, custom := gtypes.AuthorizationTypeNone, gtypes.AuthorizationTypeCustom
	tests := []struct {
		name  string
		route gtypes.Route
		kept  map[string]bool
		want  string
	}{
		{"matches", route("GET /a", "integrations/i1", none, ""), nil, statusUnchanged},
		{"emulator omits auth type", route("GET /a", "integrations/i1", "", ""), nil, statusUnchanged},
		{"other target", route("GET /a", "integrations/old", none, ""), nil, statusUpdated},
		{"authorizer attached to a none route", route("GET /a", "integrations/i1", custom, "au1"), nil, statusUpdated},
		{"none route keeps a stale authorizer id", route("GET /a", "integrations/i1", none, "au1"), nil, statusUpdated},
		{"protected, matches", route("GET /b", "integrations/i2", custom, "au1"), nil, statusUnchanged},
		{"protected route without authorizer", route("GET /b", "integrations/i2", none, ""), nil, statusUpdated},
		{"protected route, other authorizer", route("GET /b", "integrations/i2", custom, "au0"), nil, statusUpdated},
		{"protected route, JWT", route("GET /b", "integrations/i2", gtypes.AuthorizationTypeJwt, "au1"), nil, statusUpdated},
		{"undeclared", route("GET /gone", "integrations/i1", none, ""), nil, statusDeleted},
		{"duplicate of a kept key", route("GET /a", "integrations/i1", none, ""), map[string]bool{"GET /a": true}, statusDeleted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kept := tt.kept
			if kept == nil {
				kept = map[string]bool{}
			}
			if got := routeAction(tt.route, want, kept); got != tt.want {
				t.Errorf("routeAction = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUpdateRouteInput(t *testing.T) {
	custom := routeSpec{key: "GET /b", target: "integrations/i2", authType: gtypes.AuthorizationTypeCustom, authorizerID: "au1"}
	none := routeSpec{key: "GET /b", target: "integrations/i2", authType: gtypes.AuthorizationTypeNone}
	plain := gtypes.Route{RouteId: aws.String("r1")}
	attached := gtypes.Route{RouteId: aws.String("r1"), AuthorizationType: gtypes.AuthorizationTypeCustom, AuthorizerId: aws.String("au1")}
	tests := []struct {
		name         string
		route        gtypes.Route
		spec         routeSpec
		authorizerID *string // nil: the field is not sent
	}{
		{"attach", plain, custom, aws.String("au1")},
		{"detach clears the id", attached, none, aws.String("")},
		{"none stays none: id not sent", plain, none, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := updateRouteInput("api1", tt.route, tt.spec)
			if aws.ToString(in.ApiId) != "api1" || aws.ToString(in.RouteId) != "r1" || aws.ToString(in.Target) != tt.spec.target || in.AuthorizationType != tt.spec.authType {
				t.Errorf("input %+v does not carry the spec %+v", in, tt.spec)
			}
			switch {
			case tt.authorizerID == nil && in.AuthorizerId != nil:
				t.Errorf("AuthorizerId = %q, want it not sent", *in.AuthorizerId)
			case tt.authorizerID != nil && (in.AuthorizerId == nil || *in.AuthorizerId != *tt.authorizerID):
				t.Errorf("AuthorizerId = %v, want %q", in.AuthorizerId, *tt.authorizerID)
			}
		})
	}
}

func TestAuthorizerURI(t *testing.T) {
	got := authorizerURI("us-east-1", "arn:aws:lambda:us-east-1:000000000000:function:shop-platform-authorizer")
	want := "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:shop-platform-authorizer/invocations"
	if got != want {
		t.Errorf("authorizerURI =\n%s\nwant\n%s", got, want)
	}
}

func TestWantAuthorizer(t *testing.T) {
	a := wantAuthorizer("shop-authorizer", "uri")
	if a.AuthorizerType != gtypes.AuthorizerTypeRequest ||
		aws.ToString(a.AuthorizerPayloadFormatVersion) != "2.0" ||
		!aws.ToBool(a.EnableSimpleResponses) ||
		!slices.Equal(a.IdentitySource, []string{"$request.header.Authorization"}) ||
		aws.ToInt32(a.AuthorizerResultTtlInSeconds) != 60 ||
		aws.ToString(a.Name) != "shop-authorizer" || aws.ToString(a.AuthorizerUri) != "uri" {
		t.Errorf("wantAuthorizer = %+v", a)
	}
}

func TestAuthorizerDiff(t *testing.T) {
	want := wantAuthorizer("shop-authorizer", "uri")
	with := func(change func(*gtypes.Authorizer)) gtypes.Authorizer {
		a := want
		a.IdentitySource = slices.Clone(want.IdentitySource)
		change(&a)
		return a
	}
	tests := []struct {
		name string
		have gtypes.Authorizer
		want []string
	}{
		{"identical", with(func(*gtypes.Authorizer) {}), nil},
		{"other function", with(func(a *gtypes.Authorizer) { a.AuthorizerUri = aws.String("old") }), []string{"uri"}},
		{"policy responses", with(func(a *gtypes.Authorizer) { a.EnableSimpleResponses = aws.Bool(false) }), []string{"simple responses"}},
		{"payload 1.0", with(func(a *gtypes.Authorizer) { a.AuthorizerPayloadFormatVersion = aws.String("1.0") }), []string{"payload version"}},
		{"identity source", with(func(a *gtypes.Authorizer) { a.IdentitySource = []string{"$request.header.X-Token"} }), []string{"identity source"}},
		{"ttl unset", with(func(a *gtypes.Authorizer) { a.AuthorizerResultTtlInSeconds = nil }), []string{"ttl"}},
		{"several, in fixed order", with(func(a *gtypes.Authorizer) {
			a.AuthorizerResultTtlInSeconds, a.AuthorizerType, a.AuthorizerUri = aws.Int32(300), gtypes.AuthorizerTypeJwt, nil
		}), []string{"type", "uri", "ttl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := authorizerDiff(want, tt.have); !slices.Equal(got, tt.want) {
				t.Errorf("authorizerDiff = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPickAuthorizer(t *testing.T) {
	auth := func(id, name string, typ gtypes.AuthorizerType) gtypes.Authorizer {
		return gtypes.Authorizer{AuthorizerId: aws.String(id), Name: aws.String(name), AuthorizerType: typ}
	}
	req, jwt := gtypes.AuthorizerTypeRequest, gtypes.AuthorizerTypeJwt
	ids := func(as []gtypes.Authorizer) []string {
		var out []string
		for _, a := range as {
			out = append(out, aws.ToString(a.AuthorizerId))
		}
		return out
	}
	tests := []struct {
		name      string
		existing  []gtypes.Authorizer
		keep      bool
		wantKept  string
		wantStale []string
	}{
		{"none yet", nil, true, "", nil},
		{"one", []gtypes.Authorizer{auth("a1", "shop-authorizer", req)}, true, "a1", nil},
		{"others' authorizers are left alone", []gtypes.Authorizer{auth("a1", "other", req)}, true, "", nil},
		{"duplicates: lowest id kept", []gtypes.Authorizer{auth("b2", "shop-authorizer", req), auth("a1", "shop-authorizer", req)}, true, "a1", []string{"b2"}},
		{"wrong type is replaced", []gtypes.Authorizer{auth("a1", "shop-authorizer", jwt), auth("b2", "shop-authorizer", req)}, true, "b2", []string{"a1"}},
		{"no authorizer function: all go", []gtypes.Authorizer{auth("a1", "shop-authorizer", req)}, false, "", []string{"a1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kept, stale := pickAuthorizer(tt.existing, "shop-authorizer", tt.keep)
			gotKept := ""
			if kept != nil {
				gotKept = aws.ToString(kept.AuthorizerId)
			}
			if gotKept != tt.wantKept || !slices.Equal(ids(stale), tt.wantStale) {
				t.Errorf("kept %q, stale %v; want %q, %v", gotKept, ids(stale), tt.wantKept, tt.wantStale)
			}
		})
	}
}

func TestInvokeSourceARNs(t *testing.T) {
	if got, want := executeAPIARN("us-east-1", "000000000000", "api1", "*/*"), "arn:aws:execute-api:us-east-1:000000000000:api1/*/*"; got != want {
		t.Errorf("routes source %q, want %q", got, want)
	}
	if got, want := executeAPIARN("us-east-1", "000000000000", "api1", "authorizers/au1"), "arn:aws:execute-api:us-east-1:000000000000:api1/authorizers/au1"; got != want {
		t.Errorf("authorizer source %q, want %q", got, want)
	}
	if permissionStatementID("api1") == authorizerStatementID("api1", "au1") {
		t.Error("the routes' and the authorizer's grants share a statement id")
	}
}

func TestIntegrationLabel(t *testing.T) {
	in := gtypes.Integration{IntegrationId: aws.String("i1"), IntegrationUri: aws.String("arn:aws:lambda:us-east-1:000000000000:function:shop-users-get")}
	if got := integrationLabel(in); got != "shop-users-get" {
		t.Errorf("label %q, want the function name", got)
	}
	in.IntegrationUri = aws.String("https://example.com")
	if got := integrationLabel(in); got != "i1" {
		t.Errorf("label %q, want the id for a non-Lambda URI", got)
	}
}
