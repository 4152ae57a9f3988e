package main

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	gtypes "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	lgtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/manifest"
)

func routed(name, routeKey, authType string) *deployment.Function {
	return &deployment.Function{Name: name, FunctionName: "shop-" + name, Route: &deployment.Route{RouteKey: routeKey, AuthorizationType: authType}}
}

func TestWantRoutes(t *testing.T) {
	routes := []*deployment.Function{
		routed("users-get", "GET /v1/users/{id}", "CUSTOM"),
		routed("users-register", "POST /v1/users", "NONE"),
		routed("inventory-create", "POST /v1/products", "CUSTOM"),
	}
	integrations := map[string]string{"users-get": "i1", "users-register": "i2", "inventory-create": "i3"}
	got, err := wantRoutes(routes, integrations, "auth1")
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

// The route table of the repository's model: one route per routed
// function, protected exactly where the manifest's auth is not none.
func TestWantRoutesOfTheModel(t *testing.T) {
	model := testModel(t)
	routes := model.Routes()
	integrations := map[string]string{}
	for _, fn := range routes {
		integrations[fn.Name] = "i-" + fn.Name
	}
	got, err := wantRoutes(routes, integrations, "auth1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(routes) || len(routes) == 0 {
		t.Fatalf("%d routes for %d routed functions", len(got), len(routes))
	}
	for _, fn := range routes {
		spec := got[fn.Route.RouteKey]
		protected := fn.Route.Auth != manifest.AuthNone
		if protected != (spec.authType == gtypes.AuthorizationTypeCustom && spec.authorizerID == "auth1") || spec.target != "integrations/i-"+fn.Name {
			t.Errorf("route %s (auth %s): %+v", fn.Route.RouteKey, fn.Route.Auth, spec)
		}
	}
}

func TestWantRoutesNeedsAnAuthorizerForProtectedRoutes(t *testing.T) {
	routes := []*deployment.Function{routed("users-get", "GET /v1/users/{id}", "CUSTOM")}
	_, err := wantRoutes(routes, map[string]string{"users-get": "i1"}, "")
	if err == nil || !strings.Contains(err.Error(), "authorizer") {
		t.Errorf("err = %v, want one naming the missing authorizer", err)
	}
	routes = []*deployment.Function{routed("users-register", "POST /v1/users", "NONE")}
	if _, err := wantRoutes(routes, map[string]string{"users-register": "i1"}, ""); err != nil {
		t.Errorf("auth none without an authorizer: %v", err)
	}
}

func TestPlanAPI(t *testing.T) {
	tests := []struct {
		name            string
		current, legacy []string
		want            apiPlan
		err             string
	}{
		{"nothing yet: create", nil, nil, apiPlan{}, ""},
		{"the model's", []string{"a1"}, nil, apiPlan{keep: "a1"}, ""},
		{"an old stack: rename its API", nil, []string{"o1"}, apiPlan{keep: "o1", rename: true}, ""},
		{"both: the old one goes", []string{"a1"}, []string{"o2", "o1"}, apiPlan{keep: "a1", delete: []string{"o1", "o2"}}, ""},
		{"two with the model's name", []string{"a2", "a1"}, nil, apiPlan{}, "2 HTTP APIs have this name ([a1 a2])"},
		{"two with the old name", nil, []string{"o1", "o2"}, apiPlan{}, "2 have the old one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := planAPI("shop-api", tt.current, tt.legacy)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one with %q", err, tt.err)
				}
				return
			}
			if err != nil || got.keep != tt.want.keep || got.rename != tt.want.rename || !slices.Equal(got.delete, tt.want.delete) {
				t.Errorf("planAPI = %+v, %v; want %+v", got, err, tt.want)
			}
		})
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
	a := wantAuthorizer(testModel(t).API.Authorizer, "uri")
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
	want := wantAuthorizer(testModel(t).API.Authorizer, "uri")
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
			kept, stale := pickAuthorizer(tt.existing, "shop-authorizer", gtypes.AuthorizerTypeRequest, tt.keep)
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
	if got, want := executeAPIARN("us-east-1", "000000000000", "api1")+"/*/GET/v1/users/*", "arn:aws:execute-api:us-east-1:000000000000:api1/*/GET/v1/users/*"; got != want {
		t.Errorf("route source %q, want %q", got, want)
	}
	if deployment.RoutePermissionID == deployment.AuthorizerPermissionID {
		t.Error("the routes' and the authorizer's grants share a statement id")
	}
}

// The deployer replaces its own grants to API Gateway, today's and the
// ones it gave before the model named them, and leaves any other alone.
func TestManagedGrant(t *testing.T) {
	for sid, want := range map[string]bool{
		deployment.RoutePermissionID:      true,
		deployment.AuthorizerPermissionID: true,
		"apigateway-abc123":               true,
		"apigateway-abc123-authorizer-x1": true,
		"AllowEventBridgeInvoke":          false,
		"":                                false,
	} {
		if got := managedGrant(sid); got != want {
			t.Errorf("managedGrant(%q) = %v, want %v", sid, got, want)
		}
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

// The stage of the repository's model: every route throttled as the
// settings say, the routes of functions that hash passwords (and only
// those) tighter, access logs in the model's format to the given group.
func TestWantStageOfTheModel(t *testing.T) {
	model := testModel(t)
	const arn = "arn:aws:logs:us-east-1:000000000000:log-group:/aws/apigateway/shop-api/access"
	got := wantStage(model, arn)
	if !got.autoDeploy {
		t.Error("stage without auto-deploy")
	}
	s := model.Settings
	if aws.ToInt32(got.defaultRoute.ThrottlingBurstLimit) != int32(s.Throttling.Burst) || aws.ToFloat64(got.defaultRoute.ThrottlingRateLimit) != s.Throttling.Rate {
		t.Errorf("default route settings %+v, want the model's %+v", got.defaultRoute, s.Throttling)
	}
	var passwords []string
	for _, fn := range model.Routes() {
		if fn.HashesPasswords {
			passwords = append(passwords, fn.Route.RouteKey)
		}
	}
	if len(passwords) == 0 {
		t.Fatal("no route hashes passwords: nothing to check")
	}
	if keys := slices.Sorted(maps.Keys(got.routes)); !slices.Equal(keys, slices.Sorted(slices.Values(passwords))) {
		t.Errorf("route settings for %v, want for the password routes %v", keys, passwords)
	}
	for key, rs := range got.routes {
		if aws.ToInt32(rs.ThrottlingBurstLimit) != int32(s.PasswordThrottling.Burst) || aws.ToFloat64(rs.ThrottlingRateLimit) != s.PasswordThrottling.Rate {
			t.Errorf("route %s: %+v, want the model's password throttling %+v", key, rs, s.PasswordThrottling)
		}
	}
	if aws.ToString(got.accessLog.DestinationArn) != arn || aws.ToString(got.accessLog.Format) != model.API.AccessLogFormat {
		t.Errorf("access log %+v, want to %s in the model's format", got.accessLog, arn)
	}
}

func TestStageDiff(t *testing.T) {
	want := stageSpec{
		autoDeploy:   true,
		defaultRoute: throttle(deployment.Throttling{Burst: 100, Rate: 50}),
		routes:       map[string]gtypes.RouteSettings{"POST /v1/users": throttle(deployment.Throttling{Burst: 10, Rate: 5})},
		accessLog:    gtypes.AccessLogSettings{DestinationArn: aws.String("arn:group"), Format: aws.String(`{"a":"b"}`)},
	}
	for _, tc := range []struct {
		name string
		edit func(*stageSpec)
		want []string
	}{
		{"same", func(*stageSpec) {}, nil},
		{"same, with other route settings than throttling", func(s *stageSpec) {
			s.defaultRoute.DetailedMetricsEnabled = aws.Bool(true)
		}, nil},
		{"no auto-deploy", func(s *stageSpec) { s.autoDeploy = false }, []string{"auto-deploy"}},
		{"no default throttling", func(s *stageSpec) { s.defaultRoute = gtypes.RouteSettings{} }, []string{"throttling"}},
		{"other rate", func(s *stageSpec) { s.defaultRoute.ThrottlingRateLimit = aws.Float64(49.5) }, []string{"throttling"}},
		{"password route unthrottled", func(s *stageSpec) { s.routes = nil }, []string{"route throttling"}},
		{"stale route setting", func(s *stageSpec) {
			s.routes = map[string]gtypes.RouteSettings{"POST /v1/users": want.routes["POST /v1/users"], "GET /v1/users/{id}": want.routes["POST /v1/users"]}
		}, []string{"route throttling"}},
		{"other access log format", func(s *stageSpec) { s.accessLog.Format = aws.String("x") }, []string{"access log"}},
		{"no access log", func(s *stageSpec) { s.accessLog = gtypes.AccessLogSettings{} }, []string{"access log"}},
	} {
		have := want
		have.routes = maps.Clone(want.routes)
		tc.edit(&have)
		if got := stageDiff(want, have); !slices.Equal(got, tc.want) {
			t.Errorf("%s: stageDiff = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// An unset limit is no limit; a limit of 0 blocks every request.
func TestSameThrottleTellsZeroFromUnset(t *testing.T) {
	zero := gtypes.RouteSettings{ThrottlingBurstLimit: aws.Int32(0), ThrottlingRateLimit: aws.Float64(0)}
	if sameThrottle(gtypes.RouteSettings{}, zero) || sameThrottle(zero, gtypes.RouteSettings{}) {
		t.Error("unset throttling and throttling 0 compare equal")
	}
	if !sameThrottle(zero, zero) || !sameThrottle(gtypes.RouteSettings{}, gtypes.RouteSettings{}) {
		t.Error("equal throttling compares unequal")
	}
}

func TestStaleRouteSettings(t *testing.T) {
	rs := throttle(deployment.Throttling{Burst: 1, Rate: 1})
	want := stageSpec{routes: map[string]gtypes.RouteSettings{"POST /v1/users": rs}}
	have := stageSpec{routes: map[string]gtypes.RouteSettings{"POST /v1/users": rs, "GET /v1/b": rs, "GET /v1/a": rs}}
	if got := staleRouteSettings(want, have); !slices.Equal(got, []string{"GET /v1/a", "GET /v1/b"}) {
		t.Errorf("staleRouteSettings = %v, want [GET /v1/a GET /v1/b]", got)
	}
	if got := staleRouteSettings(want, stageSpec{}); len(got) != 0 {
		t.Errorf("staleRouteSettings of a stage without route settings = %v, want none", got)
	}
}

// An access log destination is the group's ARN as Terraform gives it:
// without CloudWatch Logs' ":*".
func TestLogGroupARN(t *testing.T) {
	const arn = "arn:aws:logs:us-east-1:000000000000:log-group:/aws/apigateway/shop-api/access"
	for _, g := range []lgtypes.LogGroup{
		{Arn: aws.String(arn + ":*")},
		{Arn: aws.String(arn)},
		{LogGroupArn: aws.String(arn)},
		{Arn: aws.String(arn + ":*"), LogGroupArn: aws.String(arn)},
	} {
		if got := logGroupARN(g); got != arn {
			t.Errorf("logGroupARN(%+v) = %q, want %q", g, got, arn)
		}
	}
}

func TestWantCORS(t *testing.T) {
	model := &deployment.CORS{
		AllowMethods: []string{"GET", "POST"}, AllowHeaders: []string{"Authorization"},
		ExposeHeaders: []string{"ETag"}, MaxAgeSeconds: 3600,
	}
	if c := wantCORS(model, nil); c != nil {
		t.Errorf("no origins: %+v, want no CORS configuration", c)
	}
	c := wantCORS(model, []string{"http://localhost:3000"})
	if c == nil || !slices.Equal(c.AllowOrigins, []string{"http://localhost:3000"}) || !slices.Equal(c.AllowMethods, model.AllowMethods) ||
		!slices.Equal(c.AllowHeaders, model.AllowHeaders) || !slices.Equal(c.ExposeHeaders, model.ExposeHeaders) ||
		aws.ToInt32(c.MaxAge) != 3600 || c.AllowCredentials == nil || *c.AllowCredentials {
		t.Errorf("wantCORS = %+v", c)
	}
}

func TestAPIUpdate(t *testing.T) {
	want := &gtypes.Cors{
		AllowOrigins: []string{"http://localhost:3000"}, AllowMethods: []string{"GET", "POST"},
		AllowHeaders: []string{"Authorization", "Content-Type"}, ExposeHeaders: []string{"ETag"},
		MaxAge: aws.Int32(3600), AllowCredentials: aws.Bool(false),
	}
	api := func(name, description string, cors *gtypes.Cors) gtypes.Api {
		return gtypes.Api{Name: aws.String(name), Description: aws.String(description), CorsConfiguration: cors}
	}
	// As AWS reads it back: header names in lower case, lists in another
	// order, false left out.
	asRead := &gtypes.Cors{
		AllowOrigins: []string{"http://localhost:3000"}, AllowMethods: []string{"POST", "GET"},
		AllowHeaders: []string{"content-type", "authorization"}, ExposeHeaders: []string{"etag"}, MaxAge: aws.Int32(3600),
	}
	for _, tt := range []struct {
		name       string
		have       gtypes.Api
		cors       *gtypes.Cors
		diff       []string
		deleteCORS bool
	}{
		{"unchanged", api("shop-api", "d", want), want, nil, false},
		{"unchanged as AWS reads it", api("shop-api", "d", asRead), want, nil, false},
		{"no CORS wanted, none there", api("shop-api", "d", nil), nil, nil, false},
		{"an empty configuration is none", api("shop-api", "d", &gtypes.Cors{}), nil, nil, false},
		{"CORS added", api("shop-api", "d", nil), want, []string{"CORS"}, false},
		{"another origin", api("shop-api", "d", &gtypes.Cors{AllowOrigins: []string{"https://shop.example.com"}, AllowMethods: want.AllowMethods, AllowHeaders: want.AllowHeaders, ExposeHeaders: want.ExposeHeaders, MaxAge: want.MaxAge}), want, []string{"CORS"}, false},
		{"another max age", api("shop-api", "d", &gtypes.Cors{AllowOrigins: want.AllowOrigins, AllowMethods: want.AllowMethods, AllowHeaders: want.AllowHeaders, ExposeHeaders: want.ExposeHeaders, MaxAge: aws.Int32(60)}), want, []string{"CORS"}, false},
		{"a method fewer", api("shop-api", "d", &gtypes.Cors{AllowOrigins: want.AllowOrigins, AllowMethods: []string{"GET"}, AllowHeaders: want.AllowHeaders, ExposeHeaders: want.ExposeHeaders, MaxAge: want.MaxAge}), want, []string{"CORS"}, false},
		{"CORS turned off", api("shop-api", "d", want), nil, []string{"CORS"}, true},
		{"renamed, CORS kept", api("shop-http", "d", want), want, []string{"name"}, false},
		{"description and CORS", api("shop-api", "old", nil), want, []string{"description", "CORS"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := apiUpdate(tt.have, "shop-api", "d", tt.cors)
			if !slices.Equal(got.diff, tt.diff) || got.deleteCORS != tt.deleteCORS {
				t.Fatalf("apiUpdate: diff %v, delete CORS %v; want %v, %v", got.diff, got.deleteCORS, tt.diff, tt.deleteCORS)
			}
			needUpdate := slices.ContainsFunc(tt.diff, func(d string) bool { return d != "CORS" || !tt.deleteCORS })
			if (got.update != nil) != needUpdate {
				t.Fatalf("apiUpdate: update %+v, want one: %v", got.update, needUpdate)
			}
			if got.update != nil && slices.Contains(tt.diff, "CORS") && got.update.CorsConfiguration != tt.cors {
				t.Errorf("update sends CORS %+v, want the model's", got.update.CorsConfiguration)
			}
		})
	}
}
