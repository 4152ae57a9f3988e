package tests

import (
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/shop-serverless/shop/shared/deployment"
)

// corsOrigins are the origins the stack under test allows, read as the
// local deployer reads them (the apply test gives Terraform the same).
func corsOrigins(t *testing.T) []string {
	t.Helper()
	origins, err := deployment.LocalCORSOrigins(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	return origins
}

// A browser on an allowed origin may call the API: API Gateway answers its
// preflight from the API's CORS configuration (the model's, with the
// stack's origins) and marks the actual response readable; a page on any
// other origin gets no Access-Control-Allow-Origin, so its browser keeps
// the response from it.
func TestCORSLetsAllowedOriginsCallTheAPI(t *testing.T) {
	skipOnKnative(t, "CORS is API Gateway's (the HTTP API's CORS configuration); a Knative deployment puts its own ingress in front")
	t.Parallel()
	origins := corsOrigins(t)
	const stranger = "https://not-allowed.example"
	if slices.Contains(origins, stranger) {
		t.Fatalf("%s allows %s, the origin this test expects refused", deployment.EnvCORSAllowedOrigins, stranger)
	}
	if len(origins) == 0 {
		// CORS off: nothing may tell a browser that any origin is allowed.
		for _, r := range []response{
			preflight(t, "/v1/products", "http://localhost:3000", http.MethodGet, "authorization"),
			call(t, http.MethodGet, "/v1/products?limit=1", nil, "Origin", "http://localhost:3000"),
		} {
			if v := r.Header.Get("Access-Control-Allow-Origin"); v != "" {
				t.Errorf("CORS is off (%s=%s), yet a response allows origin %q", deployment.EnvCORSAllowedOrigins, deployment.CORSOff, v)
			}
		}
		return
	}
	origin, wantAllow := origins[0], origins[0]
	if origin == deployment.AnyOrigin {
		origin = "http://localhost:3000"
	}

	t.Run("preflight of a conditional GET", func(t *testing.T) {
		r := preflight(t, "/v1/products", origin, http.MethodGet, "authorization,if-none-match,x-correlation-id")
		if r.Status != http.StatusOK && r.Status != http.StatusNoContent {
			t.Errorf("preflight status %d, want 200 or 204; body %s", r.Status, r.Body)
		}
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != wantAllow {
			t.Errorf("Access-Control-Allow-Origin %q, want %q", got, wantAllow)
		}
		assertListed(t, r, "Access-Control-Allow-Methods", http.MethodGet)
		assertListed(t, r, "Access-Control-Allow-Headers", "Authorization", "If-None-Match", "X-Correlation-Id")
		if got, want := r.Header.Get("Access-Control-Max-Age"), strconv.Itoa(deployment.CORSMaxAge); got != want {
			t.Errorf("Access-Control-Max-Age %q, want %q", got, want)
		}
		if got := r.Header.Get("Access-Control-Allow-Credentials"); got == "true" {
			t.Error("Access-Control-Allow-Credentials: true; tokens are bearer headers, no browser credentials are wanted")
		}
	})

	t.Run("preflight of an idempotent POST", func(t *testing.T) {
		r := preflight(t, "/v1/products", origin, http.MethodPost, "authorization,content-type,idempotency-key")
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != wantAllow {
			t.Errorf("Access-Control-Allow-Origin %q, want %q", got, wantAllow)
		}
		assertListed(t, r, "Access-Control-Allow-Methods", http.MethodPost)
		assertListed(t, r, "Access-Control-Allow-Headers", "Authorization", "Content-Type", "Idempotency-Key")
	})

	t.Run("actual GET", func(t *testing.T) {
		r := call(t, http.MethodGet, "/v1/products?limit=1", nil, "Origin", origin)
		if r.Status != http.StatusOK {
			t.Fatalf("GET /v1/products from %s: status %d, want 200; body %s", origin, r.Status, r.Body)
		}
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != wantAllow {
			t.Errorf("Access-Control-Allow-Origin %q, want %q", got, wantAllow)
		}
		assertListed(t, r, "Access-Control-Expose-Headers", "ETag", "Location", "Retry-After", "X-Correlation-Id")
	})

	if origin == deployment.AnyOrigin || wantAllow == deployment.AnyOrigin {
		return // every origin is allowed: no stranger to refuse
	}
	t.Run("another origin", func(t *testing.T) {
		p := preflight(t, "/v1/products", stranger, http.MethodGet, "authorization")
		if got := p.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin %q, want none", stranger, got)
		}
		// The request itself is served (CORS binds browsers, not servers),
		// but not marked readable by the stranger's page.
		r := call(t, http.MethodGet, "/v1/products?limit=1", nil, "Origin", stranger)
		if r.Status != http.StatusOK {
			t.Fatalf("GET /v1/products from %s: status %d, want 200; body %s", stranger, r.Status, r.Body)
		}
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("GET from %s: Access-Control-Allow-Origin %q, want none", stranger, got)
		}
	})
}

// preflight sends the OPTIONS request a browser sends before a
// cross-origin request with method and (comma-separated, lower-case, as
// browsers send them) headers.
func preflight(t *testing.T, path, origin, method, headers string) response {
	t.Helper()
	return call(t, http.MethodOptions, path, nil,
		"Origin", origin, "Access-Control-Request-Method", method, "Access-Control-Request-Headers", headers)
}

// assertListed fails unless the comma-separated header of r lists each of
// want, in any case. A "*" is no wildcard here: the model lists its
// headers, and "*" never covers Authorization.
func assertListed(t *testing.T, r response, header string, want ...string) {
	t.Helper()
	var listed []string
	for _, v := range r.Header.Values(header) {
		for _, item := range strings.Split(v, ",") {
			listed = append(listed, strings.ToLower(strings.TrimSpace(item)))
		}
	}
	for _, w := range want {
		if !slices.Contains(listed, strings.ToLower(w)) {
			t.Errorf("%s %q does not list %s", header, r.Header.Values(header), w)
		}
	}
}
