package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/shop-serverless/shop/shared/manifest"
)

// testPrefix keeps the test's resources apart from a developer's `make run`
// deployment (prefix shop) on the same emulator. It is fixed, not random,
// so repeated runs against one emulator reuse the resources instead of
// piling up new ones, and exercise the "already exists" paths too.
const testPrefix = "shoptest"

// TestDeployTwiceChangesNothing deploys every manifest to a running emulator
// twice and checks that the second run reports nothing but unchanged, that
// the emulator holds exactly one API, one integration per function and one
// route per route key, and that a request through the API reaches its
// function.
//
//	SHOP_DEPLOY_TEST_ENDPOINT=http://127.0.0.1:4566 go test ./localstack/deploy -run Live
//
// SHOP_DEPLOY_TEST_ROOT points it at another checkout (default: this one).
func TestLiveDeployTwiceChangesNothing(t *testing.T) {
	endpoint := os.Getenv("SHOP_DEPLOY_TEST_ENDPOINT")
	if endpoint == "" {
		t.Skip("set SHOP_DEPLOY_TEST_ENDPOINT (e.g. http://127.0.0.1:4566) to deploy to a running emulator")
	}
	root := os.Getenv("SHOP_DEPLOY_TEST_ROOT")
	if root == "" {
		root = filepath.Join("..", "..")
	}
	dir := t.TempDir()
	urlFile := filepath.Join(dir, "api-url")
	args := []string{
		"-root", root, "-endpoint", endpoint, "-prefix", testPrefix,
		// A fixed build dir (git-ignored) lets repeated runs skip relinking.
		"-out", filepath.Join("build", "deploy-test"), "-url-file", urlFile,
	}
	ctx := t.Context()

	var first, second bytes.Buffer
	if err := run(ctx, args, &first); err != nil {
		t.Fatalf("first deploy: %v\n%s", err, &first)
	}
	if err := run(ctx, args, &second); err != nil {
		t.Fatalf("second deploy: %v\n%s", err, &second)
	}
	lines := strings.Split(strings.TrimSpace(second.String()), "\n")
	baseURL := lines[len(lines)-1]
	for _, l := range lines[:len(lines)-1] {
		if !strings.HasSuffix(l, " "+statusUnchanged) {
			t.Errorf("second deploy changed something: %q", l)
		}
	}
	if saved, err := os.ReadFile(urlFile); err != nil || strings.TrimSpace(string(saved)) != baseURL {
		t.Errorf("url file holds %q (%v), want the printed %q", saved, err, baseURL)
	}

	set, err := manifest.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	c, err := newClients(ctx, endpoint)
	if err != nil {
		t.Fatal(err)
	}

	apis, err := c.apigw.GetApis(ctx, &apigatewayv2.GetApisInput{})
	if err != nil {
		t.Fatal(err)
	}
	var apiIDs []string
	for _, a := range apis.Items {
		if aws.ToString(a.Name) == testPrefix+"-http" {
			apiIDs = append(apiIDs, aws.ToString(a.ApiId))
		}
	}
	if len(apiIDs) != 1 {
		t.Fatalf("%d APIs named %s-http, want exactly 1: %v", len(apiIDs), testPrefix, apiIDs)
	}
	apiID := apiIDs[0]
	if !strings.Contains(baseURL, "/_aws/execute-api/"+apiID+"/$default") {
		t.Errorf("printed URL %q is not the $default stage of API %s", baseURL, apiID)
	}

	integrations, err := c.apigw.GetIntegrations(ctx, &apigatewayv2.GetIntegrationsInput{ApiId: &apiID})
	if err != nil {
		t.Fatal(err)
	}
	routes, err := c.apigw.GetRoutes(ctx, &apigatewayv2.GetRoutesInput{ApiId: &apiID})
	if err != nil {
		t.Fatal(err)
	}
	intByURI := map[string][]string{}
	for _, in := range integrations.Items {
		uri := aws.ToString(in.IntegrationUri)
		intByURI[uri] = append(intByURI[uri], aws.ToString(in.IntegrationId))
	}
	routesByKey := map[string][]string{}
	for _, r := range routes.Items {
		key := aws.ToString(r.RouteKey)
		routesByKey[key] = append(routesByKey[key], aws.ToString(r.Target))
	}

	httpFns := 0
	for _, fn := range set.Functions() {
		if fn.HTTP == nil {
			continue
		}
		httpFns++
		name := manifest.FunctionName(testPrefix, fn)
		got, err := c.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &name})
		if err != nil {
			t.Errorf("function %s: %v", name, err)
			continue
		}
		arn := aws.ToString(got.Configuration.FunctionArn)
		ids := intByURI[arn]
		if len(ids) != 1 {
			t.Errorf("function %s has %d integrations, want 1: %v", name, len(ids), ids)
			continue
		}
		key := fn.HTTP.RouteKey()
		if targets := routesByKey[key]; len(targets) != 1 || targets[0] != "integrations/"+ids[0] {
			t.Errorf("route %s: targets %v, want exactly [integrations/%s]", key, targets, ids[0])
		}
	}
	if len(integrations.Items) != httpFns {
		t.Errorf("API has %d integrations, want one per http function (%d)", len(integrations.Items), httpFns)
	}
	if len(routes.Items) != httpFns {
		t.Errorf("API has %d routes, want one per route key (%d)", len(routes.Items), httpFns)
	}

	checkReachesFunction(t, baseURL, set)
}

// checkReachesFunction sends POST /v1/users through the API and checks the
// answer comes from the function, not from the gateway (404 for no route,
// 5xx for a failed integration). Placeholders answer 501 naming themselves.
func checkReachesFunction(t *testing.T, baseURL string, set *manifest.Set) {
	t.Helper()
	var target *manifest.Function
	for _, fn := range set.Functions() {
		if fn.HTTP != nil && fn.HTTP.RouteKey() == "POST /v1/users" {
			target = fn
		}
	}
	if target == nil {
		t.Log("no POST /v1/users route declared; skipping the request check")
		return
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Post(baseURL+"/v1/users", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatalf("POST /v1/users: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fromFunction := resp.StatusCode == http.StatusNotImplemented && strings.Contains(string(body), manifest.FunctionName(testPrefix, target)) ||
		resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusNotFound ||
		resp.StatusCode < 300
	if !fromFunction {
		t.Errorf("POST /v1/users: %d %s, want an answer from %s", resp.StatusCode, body, target.Name)
	}
}
