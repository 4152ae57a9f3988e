package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	gtypes "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/store/storetest"
)

// testPrefix keeps the test's resources apart from a developer's `make run`
// deployment (prefix shop) on the same emulator. It is fixed, not random,
// so repeated runs against one emulator reuse the resources instead of
// piling up new ones, and exercise the "already exists" paths too.
const testPrefix = "shoptest"

// TestLiveDeployTwiceChangesNothing deploys every manifest to a running
// emulator twice and checks that the second run reports nothing but
// unchanged; that the emulator holds exactly one API, one integration per
// function, one route per route key and one authorizer, with the protected
// routes (and only those) behind it; that every function has SHOP_FAULTS=1
// and SHOP_RECORD_AWS_CALLS=1; that every issuer's signing secret and the
// JWKS parameter exist; that a protected route refuses requests without a
// valid token; and that a request through the API reaches its function.
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

	// The first deploy loses the first response to every kind of call after
	// the emulator applied it, as MiniStack under load now and then does:
	// each create must survive its own retry (retried.go), or the second
	// deploy would find twins, or the first would fail on "already exists".
	opts, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	lossy := newLoseFirst()
	opts.httpClient = lossy
	var first, second bytes.Buffer
	if err := deploy(ctx, opts, &first); err != nil {
		t.Fatalf("first deploy, responses lost: %v\n%s", err, &first)
	}
	if lossy.lostCount() < 10 {
		t.Fatalf("only %d responses were lost: the fault did not happen", lossy.lostCount())
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
	c, err := newClients(ctx, endpoint, nil)
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
	routeOf := map[string]gtypes.Route{}
	for _, r := range routes.Items {
		key := aws.ToString(r.RouteKey)
		routesByKey[key] = append(routesByKey[key], aws.ToString(r.Target))
		routeOf[key] = r
	}
	authorizerID := checkAuthorizer(t, c, apiID, set)

	httpFns := 0
	for _, fn := range set.Functions() {
		if fn.HTTP == nil {
			continue
		}
		httpFns++
		name := naming.Function(testPrefix, fn.Name)
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
		r := routeOf[key]
		wantType, wantAuthorizer := gtypes.AuthorizationTypeNone, ""
		if fn.HTTP.Auth != manifest.AuthNone {
			wantType, wantAuthorizer = gtypes.AuthorizationTypeCustom, authorizerID
		}
		if routeAuthType(r) != wantType || aws.ToString(r.AuthorizerId) != wantAuthorizer {
			t.Errorf("route %s (auth %s): %s with authorizer %q, want %s with %q",
				key, fn.HTTP.Auth, r.AuthorizationType, aws.ToString(r.AuthorizerId), wantType, wantAuthorizer)
		}
	}
	checkFunctionsHaveFaults(t, c, set)
	checkRoutePermissions(t, c, apiID, set)
	checkPermissionSurvivesALostResponse(t, c, apiID, set)
	checkIssuers(t, c, set)
	if len(integrations.Items) != httpFns {
		t.Errorf("API has %d integrations, want one per http function (%d)", len(integrations.Items), httpFns)
	}
	if len(routes.Items) != httpFns {
		t.Errorf("API has %d routes, want one per route key (%d)", len(routes.Items), httpFns)
	}

	checkReachesFunction(t, baseURL, set)
	checkProtectedRouteRefuses(t, baseURL, set)
}

// checkAuthorizer checks that the API has exactly one authorizer of the
// deployer's name, configured as the deployer wants it, and returns its id
// ("" when the manifests declare no authorizer function).
func checkAuthorizer(t *testing.T, c clients, apiID string, set *manifest.Set) string {
	t.Helper()
	out, err := c.apigw.GetAuthorizers(t.Context(), &apigatewayv2.GetAuthorizersInput{ApiId: &apiID})
	if err != nil {
		t.Fatal(err)
	}
	name := testPrefix + "-authorizer"
	var found []gtypes.Authorizer
	for _, a := range out.Items {
		if aws.ToString(a.Name) == name {
			found = append(found, a)
		}
	}
	fn := set.Authorizer()
	if fn == nil {
		if len(found) != 0 {
			t.Errorf("%d authorizers named %s, want none: no function of kind authorizer", len(found), name)
		}
		return ""
	}
	if len(found) != 1 {
		t.Fatalf("%d authorizers named %s, want exactly 1", len(found), name)
	}
	fnName := naming.Function(testPrefix, fn.Name)
	got, err := c.lambda.GetFunction(t.Context(), &lambda.GetFunctionInput{FunctionName: &fnName})
	if err != nil {
		t.Fatalf("authorizer function %s: %v", fnName, err)
	}
	want := wantAuthorizer(name, authorizerURI(c.region, aws.ToString(got.Configuration.FunctionArn)))
	if diff := authorizerDiff(want, found[0]); len(diff) > 0 {
		t.Errorf("authorizer %s differs in %v: %+v", name, diff, found[0])
	}
	return aws.ToString(found[0].AuthorizerId)
}

// checkFunctionsHaveFaults checks the local stack's test switches (fault
// injection, recording of AWS calls) are on for every function, next to the
// manifest's own wiring.
func checkFunctionsHaveFaults(t *testing.T, c clients, set *manifest.Set) {
	t.Helper()
	for _, fn := range set.Functions() {
		name := naming.Function(testPrefix, fn.Name)
		got, err := c.lambda.GetFunctionConfiguration(t.Context(), &lambda.GetFunctionConfigurationInput{FunctionName: &name})
		if err != nil {
			t.Errorf("function %s: %v", name, err)
			continue
		}
		var env map[string]string
		if got.Environment != nil {
			env = got.Environment.Variables
		}
		if env["SHOP_FAULTS"] != "1" || env["SHOP_RECORD_AWS_CALLS"] != "1" || env["SHOP_PREFIX"] != testPrefix {
			t.Errorf("function %s: SHOP_FAULTS=%q SHOP_RECORD_AWS_CALLS=%q SHOP_PREFIX=%q, want 1, 1 and %s",
				name, env["SHOP_FAULTS"], env["SHOP_RECORD_AWS_CALLS"], env["SHOP_PREFIX"], testPrefix)
		}
	}
}

// checkRoutePermissions checks that API Gateway may invoke each http
// function for its own route only, and through no other grant.
func checkRoutePermissions(t *testing.T, c clients, apiID string, set *manifest.Set) {
	t.Helper()
	d := &deployer{clients: c, prefix: testPrefix}
	for _, fn := range set.Functions() {
		if fn.HTTP == nil {
			continue
		}
		name := naming.Function(testPrefix, fn.Name)
		grants, err := d.apiGatewayGrants(t.Context(), name)
		if err != nil {
			t.Errorf("function %s: %v", name, err)
			continue
		}
		source := grants[permissionStatementID(apiID)]
		if len(grants) != 1 || !strings.HasSuffix(source, ":"+apiID+"/*/"+fn.HTTP.InvokeResource()) {
			t.Errorf("function %s: API Gateway grants %v, want one for %s/*/%s", name, grants, apiID, fn.HTTP.InvokeResource())
		}
	}
}

// checkPermissionSurvivesALostResponse grants a route's permission anew
// through a Lambda client that loses AddPermission's response after the
// emulator applied it (as MiniStack does under load now and then): the
// SDK's retry meets the statement its first attempt added, which is
// success, not a conflict.
func checkPermissionSurvivesALostResponse(t *testing.T, c clients, apiID string, set *manifest.Set) {
	t.Helper()
	var fn *manifest.Function
	for _, f := range set.Functions() {
		if f.HTTP != nil {
			fn = f
			break
		}
	}
	name := naming.Function(testPrefix, fn.Name)
	sid := permissionStatementID(apiID)
	if _, err := c.lambda.RemovePermission(t.Context(), &lambda.RemovePermissionInput{FunctionName: &name, StatementId: &sid}); err != nil {
		t.Fatalf("remove %s's grant: %v", name, err)
	}
	out, err := c.lambda.GetFunction(t.Context(), &lambda.GetFunctionInput{FunctionName: &name})
	if err != nil {
		t.Fatal(err)
	}
	lossy := &loseOnce{next: awshttp.NewBuildableClient(), match: func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/policy")
	}}
	d := &deployer{clients: c, prefix: testPrefix, p: newProgress(io.Discard)}
	d.lambda = lambda.New(c.lambda.Options(), func(o *lambda.Options) { o.HTTPClient = lossy })
	err = d.ensureInvokePermission(t.Context(), fn, aws.ToString(out.Configuration.FunctionArn), sid, func(account string) string {
		return executeAPIARN(c.region, account, apiID, "*/"+fn.HTTP.InvokeResource())
	})
	if err != nil {
		t.Fatalf("ensureInvokePermission with AddPermission's response lost: %v", err)
	}
	if lossy.sent.Load() < 2 {
		t.Fatalf("AddPermission sent %d times: the loss did not happen, the test proves nothing", lossy.sent.Load())
	}
	checkRoutePermissions(t, c, apiID, set)
}

// loseFirst sends every request and loses the response to the first call
// of each kind (operation and resource), after the server applied it.
type loseFirst struct {
	next aws.HTTPClient
	mu   sync.Mutex
	seen map[string]bool
	lost int
}

func newLoseFirst() *loseFirst {
	return &loseFirst{next: awshttp.NewBuildableClient(), seen: map[string]bool{}}
}

func (l *loseFirst) lostCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

func (l *loseFirst) Do(r *http.Request) (*http.Response, error) {
	// The kind of call: the JSON protocols name it in X-Amz-Target, IAM's
	// query protocol in the body's Action; REST APIs by method and path.
	kind := r.Header.Get("X-Amz-Target")
	if kind == "" && r.Body != nil && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		_ = r.Body.Close()
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		if form, err := url.ParseQuery(string(body)); err == nil {
			kind = form.Get("Action") + " " + form.Get("RoleName")
		}
	}
	if kind == "" {
		kind = r.Method + " " + r.URL.Path
	}
	l.mu.Lock()
	lose := !l.seen[kind]
	l.seen[kind] = true
	l.mu.Unlock()
	resp, err := l.next.Do(r)
	if err != nil || !lose {
		return resp, err
	}
	l.mu.Lock()
	l.lost++
	l.mu.Unlock()
	if err := storetest.Lose(resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// loseOnce sends every request, and for the first that match admits, lets
// the server apply it and hands the client a response whose body fails to
// read: a connection error the SDK retries.
type loseOnce struct {
	next  aws.HTTPClient
	match func(*http.Request) bool
	sent  atomic.Int32
}

func (l *loseOnce) Do(r *http.Request) (*http.Response, error) {
	resp, err := l.next.Do(r)
	if err != nil || !l.match(r) {
		return resp, err
	}
	if l.sent.Add(1) > 1 {
		return resp, nil
	}
	if err := storetest.Lose(resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// checkIssuers checks every issuer has its signing secret, and that the
// public keys are published.
func checkIssuers(t *testing.T, c clients, set *manifest.Set) {
	t.Helper()
	issuers := set.Issuers()
	for _, iss := range issuers {
		secret := naming.SigningSecret(testPrefix, iss.Service)
		if _, err := c.sm.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: &secret}); err != nil {
			t.Errorf("issuer %s: secret %s: %v", naming.Issuer(testPrefix, iss.Service), secret, err)
		}
	}
	param := naming.JWKSParameter(testPrefix)
	out, err := c.ssm.GetParameter(t.Context(), &ssm.GetParameterInput{Name: &param})
	if err != nil {
		t.Errorf("JWKS parameter %s: %v", param, err)
		return
	}
	var jwks struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.Parameter.Value)), &jwks); err != nil || len(jwks.Keys) < len(issuers) {
		t.Errorf("JWKS parameter %s holds %d keys (%v), want at least one per issuer (%d)", param, len(jwks.Keys), err, len(issuers))
	}
}

// checkProtectedRouteRefuses sends requests to the first route behind the
// authorizer: without an Authorization header API Gateway itself answers
// 401; with a token no issuer signed, the authorizer denies (403).
func checkProtectedRouteRefuses(t *testing.T, baseURL string, set *manifest.Set) {
	t.Helper()
	var target *manifest.Function
	for _, fn := range set.Functions() {
		if fn.HTTP != nil && fn.HTTP.Auth != manifest.AuthNone {
			target = fn
			break
		}
	}
	if target == nil {
		t.Log("no protected route declared; skipping the authorizer check")
		return
	}
	url := baseURL + samplePath(target.HTTP.Path)
	client := &http.Client{Timeout: 30 * time.Second}
	for _, tc := range []struct {
		authorization string
		want          int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer not-a-token", http.StatusForbidden},
	} {
		req, err := http.NewRequestWithContext(t.Context(), target.HTTP.Method, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.authorization != "" {
			req.Header.Set("Authorization", tc.authorization)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", target.HTTP.Method, url, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s with Authorization %q: %d %s, want %d", target.HTTP.Method, target.HTTP.Path, tc.authorization, resp.StatusCode, body, tc.want)
		}
	}
}

// samplePath fills a route's {param} placeholders with a value, giving a
// path the route matches.
func samplePath(route string) string {
	return pathParamRE.ReplaceAllString(route, "x1")
}

var pathParamRE = regexp.MustCompile(`\{[^}]+\}`)

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
	fromFunction := resp.StatusCode == http.StatusNotImplemented && strings.Contains(string(body), naming.Function(testPrefix, target.Name)) ||
		resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusNotFound ||
		resp.StatusCode < 300
	if !fromFunction {
		t.Errorf("POST /v1/users: %d %s, want an answer from %s", resp.StatusCode, body, target.Name)
	}
}
