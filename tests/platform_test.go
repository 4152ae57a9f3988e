package tests

import (
	"os"
	"strings"
	"testing"
)

// PlatformKnative is SHOP_PLATFORM's value when the suite runs against the
// functions served as Knative processes (tests/knative starts them, puts a
// router that serves the generated HTTPRoutes in front, and runs this suite
// with SHOP_API_URL pointing at it) instead of through API Gateway and
// Lambda.
const PlatformKnative = "knative"

func onKnative() bool { return os.Getenv("SHOP_PLATFORM") == PlatformKnative }

// skipOnKnative skips a test that is about API Gateway or Lambda itself,
// saying why and what covers the same ground on Knative.
func skipOnKnative(t *testing.T, why string) {
	t.Helper()
	if onKnative() {
		t.Skip("SKIPPED on Knative: " + why)
	}
}

// serviceURL is the address of function's own server on Knative, where
// the ingress sends what its route matches: tests/knative lists them in
// SHOP_SERVICE_URLS as name=url,name=url.
func serviceURL(t *testing.T, function string) string {
	t.Helper()
	for _, kv := range strings.Split(os.Getenv("SHOP_SERVICE_URLS"), ",") {
		if name, url, ok := strings.Cut(kv, "="); ok && name == function {
			return url
		}
	}
	t.Fatalf("SHOP_SERVICE_URLS has no %s", function)
	return ""
}
