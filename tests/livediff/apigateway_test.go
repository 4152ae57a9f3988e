package livediff

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	gtypes "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
)

func TestFunctionOfReadsBothURIForms(t *testing.T) {
	tests := map[string]string{
		// The deployer's integration URI, and the invocation URI Terraform
		// and every authorizer use: the same function.
		"arn:aws:lambda:us-east-1:000000000000:function:shop-users-get":                                                                           "shop-users-get",
		"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:shop-users-get/invocations": "shop-users-get",
		"arn:aws:lambda:us-east-1:000000000000:function:shop-users-get:live":                                                                      "shop-users-get:live",
		"https://example.com/x": "",
	}
	for uri, want := range tests {
		if got := functionOf(uri); got != want {
			t.Errorf("functionOf(%q) = %q, want %q", uri, got, want)
		}
	}
}

func TestRouteSettingsLeaveOutWhatIsUnset(t *testing.T) {
	if got := routeSettings(nil); got != "" {
		t.Errorf("no settings = %q, want empty", got)
	}
	// An emulator's {} and a provider's explicit zero values read alike.
	if got := routeSettings(&gtypes.RouteSettings{DetailedMetricsEnabled: aws.Bool(false)}); got != "" {
		t.Errorf("zero settings = %q, want empty", got)
	}
	got := routeSettings(&gtypes.RouteSettings{ThrottlingBurstLimit: aws.Int32(10), ThrottlingRateLimit: aws.Float64(5)})
	if want := `{"ThrottlingBurstLimit":10,"ThrottlingRateLimit":5}`; got != want {
		t.Errorf("throttling = %q, want %q", got, want)
	}
	// A limit of zero blocks everything: not the same as no limit.
	got = routeSettings(&gtypes.RouteSettings{ThrottlingBurstLimit: aws.Int32(0), ThrottlingRateLimit: aws.Float64(0)})
	if want := `{"ThrottlingBurstLimit":0,"ThrottlingRateLimit":0}`; got != want {
		t.Errorf("zero throttling = %q, want %q", got, want)
	}
}

// Two stacks with one CORS configuration read alike whatever order or case
// each target sent it in; another origin, header or max age does not.
func TestCORSConfigReadsAsAPIGatewayApplies(t *testing.T) {
	if got := corsConfig(nil); got != "" {
		t.Errorf("no CORS = %q, want empty", got)
	}
	deployer := &gtypes.Cors{
		AllowOrigins: []string{"http://localhost:3000"}, AllowMethods: []string{"GET", "POST"},
		AllowHeaders: []string{"Authorization", "Content-Type"}, ExposeHeaders: []string{"ETag", "Location"},
		MaxAge: aws.Int32(3600), AllowCredentials: aws.Bool(false),
	}
	terraform := &gtypes.Cors{
		AllowOrigins: []string{"http://localhost:3000"}, AllowMethods: []string{"POST", "GET"},
		AllowHeaders: []string{"content-type", "Authorization"}, ExposeHeaders: []string{"Location", "ETag"},
		MaxAge: aws.Int32(3600),
	}
	if a, b := corsConfig(deployer), corsConfig(terraform); a != b || a == "" {
		t.Errorf("one configuration reads as %s and %s", a, b)
	}
	for name, other := range map[string]gtypes.Cors{
		"origin":      {AllowOrigins: []string{"http://localhost:5173"}, AllowMethods: deployer.AllowMethods, AllowHeaders: deployer.AllowHeaders, ExposeHeaders: deployer.ExposeHeaders, MaxAge: deployer.MaxAge},
		"header":      {AllowOrigins: deployer.AllowOrigins, AllowMethods: deployer.AllowMethods, AllowHeaders: []string{"Authorization"}, ExposeHeaders: deployer.ExposeHeaders, MaxAge: deployer.MaxAge},
		"max age":     {AllowOrigins: deployer.AllowOrigins, AllowMethods: deployer.AllowMethods, AllowHeaders: deployer.AllowHeaders, ExposeHeaders: deployer.ExposeHeaders, MaxAge: aws.Int32(60)},
		"credentials": {AllowOrigins: deployer.AllowOrigins, AllowMethods: deployer.AllowMethods, AllowHeaders: deployer.AllowHeaders, ExposeHeaders: deployer.ExposeHeaders, MaxAge: deployer.MaxAge, AllowCredentials: aws.Bool(true)},
	} {
		if corsConfig(&other) == corsConfig(deployer) {
			t.Errorf("another %s reads the same: %s", name, corsConfig(&other))
		}
	}
	if got := corsConfig(deployer); deployer.AllowMethods[0] != "GET" || deployer.AllowHeaders[0] != "Authorization" || got == "" {
		t.Errorf("corsConfig changed its argument: %+v", deployer)
	}
}
