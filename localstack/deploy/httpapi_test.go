package main

import (
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
		httpFn("users-get", "GET", "/v1/users/{id}", "none"),
		{Name: "orders-confirm", Kind: manifest.KindStep}, // no route
	}
	got, err := wantRoutes("shop", fns, map[string]string{"users-get": "abc123"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d routes, want 1 (step functions have none): %v", len(got), got)
	}
	r := got["GET /v1/users/{id}"]
	if r.target != "integrations/abc123" {
		t.Errorf("target %q, want integrations/abc123", r.target)
	}
}

func TestWantRoutesRefusesAuthorizedRoutes(t *testing.T) {
	for _, auth := range []string{"user", "scope:inventory:write"} {
		fns := []*manifest.Function{httpFn("users-get", "GET", "/v1/users/{id}", auth)}
		_, err := wantRoutes("shop", fns, map[string]string{"users-get": "abc123"})
		if err == nil || !strings.Contains(err.Error(), "authorizer not implemented yet") {
			t.Errorf("auth %q: err = %v, want 'authorizer not implemented yet'", auth, err)
		}
	}
}

func TestCheckDeployable(t *testing.T) {
	ok := &manifest.Set{Services: []*manifest.Service{{Functions: []*manifest.Function{httpFn("a-b", "GET", "/a", "none")}}}}
	if err := checkDeployable(ok); err != nil {
		t.Errorf("auth none refused: %v", err)
	}
	bad := &manifest.Set{Services: []*manifest.Service{{Functions: []*manifest.Function{
		httpFn("a-b", "GET", "/a", "user"),
		httpFn("a-c", "GET", "/c", "scope:a:read"),
	}}}}
	err := checkDeployable(bad)
	if err == nil {
		t.Fatal("auth user and scope accepted")
	}
	for _, name := range []string{"a-b", "a-c", "authorizer not implemented yet"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not mention %q", err, name)
		}
	}
}

func TestRouteAction(t *testing.T) {
	want := map[string]routeSpec{"GET /a": {key: "GET /a", target: "integrations/i1"}}
	route := func(key, target string, auth gtypes.AuthorizationType) gtypes.Route {
		return gtypes.Route{RouteKey: aws.String(key), Target: aws.String(target), AuthorizationType: auth}
	}
	tests := []struct {
		name  string
		route gtypes.Route
		kept  map[string]bool
		want  string
	}{
		{"matches", route("GET /a", "integrations/i1", gtypes.AuthorizationTypeNone), nil, statusUnchanged},
		{"emulator omits auth type", route("GET /a", "integrations/i1", ""), nil, statusUnchanged},
		{"other target", route("GET /a", "integrations/old", gtypes.AuthorizationTypeNone), nil, statusUpdated},
		{"authorizer attached", route("GET /a", "integrations/i1", gtypes.AuthorizationTypeCustom), nil, statusUpdated},
		{"undeclared", route("GET /gone", "integrations/i1", gtypes.AuthorizationTypeNone), nil, statusDeleted},
		{"duplicate of a kept key", route("GET /a", "integrations/i1", gtypes.AuthorizationTypeNone), map[string]bool{"GET /a": true}, statusDeleted},
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
