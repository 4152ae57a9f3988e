package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	gtypes "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/shop-serverless/shop/shared/awscalls"
	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/faults"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/store/storetest"
)

// testPrefix keeps the test's resources apart from a developer's `make run`
// deployment (prefix shop) on the same emulator. It is fixed, not random,
// so repeated runs against one emulator reuse the resources instead of
// piling up new ones, and exercise the "already exists" paths too.
const testPrefix = "shoptest"

// TestLiveDeployConvergesAndChangesNothing deploys every manifest to a
// running emulator, the first time losing a response to every kind of
// call; then turns part of the stack back into what the deployer made
// before it applied the deployment model (oldStack) and adds what a
// removed manifest leaves behind, beside a nested stack's function
// (removedManifest); deploys again, losing the first response to every
// kind of delete, which must bring the stack back and delete the leftovers
// and nothing else (checkPruned); and deploys a third time, which must
// report nothing but unchanged. Then it checks that the emulator holds exactly one API,
// one integration per routed function, one route per route key and one
// authorizer, configured as the model says; that what is cheap to read
// back equals the model (the API's description; its stage's throttling,
// password-route throttling and access log, and the access log group;
// each table's encryption, point-in-time recovery and deletion
// protection; each function's configuration and environment, its role's
// trust and one inline policy, its log group, its grants to API Gateway);
// that every issuer's signing secret, with its description, and the JWKS
// parameter exist; that a protected route refuses requests without a
// valid token; and that a request through the API reaches its function.
// (tests/livediff, when there, reads back everything and compares it with
// Terraform's.)
//
//	SHOP_DEPLOY_TEST_ENDPOINT=http://127.0.0.1:4566 go test ./localstack/deploy -run Live
//
// SHOP_DEPLOY_TEST_ROOT points it at another checkout (default: this one).
func TestLiveDeployConvergesAndChangesNothing(t *testing.T) {
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
	var first, converge, third bytes.Buffer
	if err := deploy(ctx, opts, &first); err != nil {
		t.Fatalf("first deploy, responses lost: %v\n%s", err, &first)
	}
	if lossy.lostCount() < 10 {
		t.Fatalf("only %d responses were lost: the fault did not happen", lossy.lostCount())
	}

	set, err := manifest.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	c, err := newClients(ctx, endpoint, nil)
	if err != nil {
		t.Fatal(err)
	}
	account := liveAccount(t, c)
	model, err := deployment.Build(set, deployment.Params{Prefix: testPrefix, Region: c.region, Account: account})
	if err != nil {
		t.Fatal(err)
	}

	aged := oldStack(t, c, model, account)
	aged = append(aged, oldAlarms(t, c, model)...)
	removed := removedManifest(t, c, model)
	// This deploy loses the first response to every kind of delete: each
	// must survive its own retry, which finds the resource gone.
	lossyDeletes := newLoseFirstOf(isDelete)
	opts.httpClient = lossyDeletes
	if err := deploy(ctx, opts, &converge); err != nil {
		t.Fatalf("deploy over the old stack, delete responses lost: %v\n%s", err, &converge)
	}
	for _, want := range append(aged, removed...) {
		if !strings.Contains(converge.String(), want) {
			t.Errorf("deploy over the old stack did not report %q:\n%s", want, &converge)
		}
	}
	if n := lossyDeletes.retriedCount(); n < len(removed) {
		t.Errorf("only %d deletes were retried after their response was lost, want at least %d: the fault did not happen", n, len(removed))
	}
	checkPruned(t, c, model)

	if err := run(ctx, args, &third); err != nil {
		t.Fatalf("third deploy: %v\n%s", err, &third)
	}
	lines := strings.Split(strings.TrimSpace(third.String()), "\n")
	baseURL := lines[len(lines)-1]
	for _, l := range lines[:len(lines)-1] {
		if reportsChange(l) {
			t.Errorf("third deploy changed something: %q", l)
		}
	}
	if saved, err := os.ReadFile(urlFile); err != nil || strings.TrimSpace(string(saved)) != baseURL {
		t.Errorf("url file holds %q (%v), want the printed %q", saved, err, baseURL)
	}

	apis, err := c.apigw.GetApis(ctx, &apigatewayv2.GetApisInput{})
	if err != nil {
		t.Fatal(err)
	}
	var current, legacy []gtypes.Api
	for _, a := range apis.Items {
		switch aws.ToString(a.Name) {
		case model.API.Name:
			current = append(current, a)
		case legacyAPIName(testPrefix):
			legacy = append(legacy, a)
		}
	}
	if len(current) != 1 || len(legacy) != 0 {
		t.Fatalf("%d APIs named %s (want exactly 1: %v) and %d with the old name (want none: %v)", len(current), model.API.Name, apiIDs(current), len(legacy), apiIDs(legacy))
	}
	apiID := aws.ToString(current[0].ApiId)
	if got := aws.ToString(current[0].Description); got != model.API.Description {
		t.Errorf("API %s: description %q, want the model's %q", model.API.Name, got, model.API.Description)
	}
	checkStage(t, c, apiID, model)
	checkTables(t, c, model)
	checkObservability(t, c, model, apiID)
	if !strings.Contains(baseURL, "/_aws/execute-api/"+apiID+"/"+model.API.Stage) {
		t.Errorf("printed URL %q is not the %s stage of API %s", baseURL, model.API.Stage, apiID)
	}

	integrations, err := c.apigw.GetIntegrations(ctx, &apigatewayv2.GetIntegrationsInput{ApiId: &apiID})
	if err != nil {
		t.Fatal(err)
	}
	routes, err := c.apigw.GetRoutes(ctx, &apigatewayv2.GetRoutesInput{ApiId: &apiID})
	if err != nil {
		t.Fatal(err)
	}
	intByURI := map[string][]gtypes.Integration{}
	for _, in := range integrations.Items {
		uri := aws.ToString(in.IntegrationUri)
		intByURI[uri] = append(intByURI[uri], in)
	}
	routesByKey := map[string][]string{}
	routeOf := map[string]gtypes.Route{}
	for _, r := range routes.Items {
		key := aws.ToString(r.RouteKey)
		routesByKey[key] = append(routesByKey[key], aws.ToString(r.Target))
		routeOf[key] = r
	}
	authorizerID := checkAuthorizer(t, c, apiID, model)

	routed := model.Routes()
	for _, fn := range routed {
		got, err := c.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &fn.FunctionName})
		if err != nil {
			t.Errorf("function %s: %v", fn.FunctionName, err)
			continue
		}
		arn := aws.ToString(got.Configuration.FunctionArn)
		ins := intByURI[arn]
		if len(ins) != 1 {
			t.Errorf("function %s has %d integrations, want 1: %v", fn.FunctionName, len(ins), ins)
			continue
		}
		id := aws.ToString(ins[0].IntegrationId)
		if v := aws.ToString(ins[0].PayloadFormatVersion); v != model.API.PayloadFormatVersion {
			t.Errorf("integration of %s: payload format %q, want %q", fn.FunctionName, v, model.API.PayloadFormatVersion)
		}
		key := fn.Route.RouteKey
		if targets := routesByKey[key]; len(targets) != 1 || targets[0] != "integrations/"+id {
			t.Errorf("route %s: targets %v, want exactly [integrations/%s]", key, targets, id)
		}
		r := routeOf[key]
		wantType, wantAuthorizer := gtypes.AuthorizationType(fn.Route.AuthorizationType), ""
		if wantType == gtypes.AuthorizationTypeCustom {
			wantAuthorizer = authorizerID
		}
		if routeAuthType(r) != wantType || aws.ToString(r.AuthorizerId) != wantAuthorizer {
			t.Errorf("route %s (auth %s): %s with authorizer %q, want %s with %q",
				key, fn.Route.Auth, r.AuthorizationType, aws.ToString(r.AuthorizerId), wantType, wantAuthorizer)
		}
	}
	checkFunctionsAreTheModel(t, c, model, baseURL)
	checkGrants(t, c, apiID, authorizerID, model)
	checkPermissionSurvivesALostResponse(t, c, apiID, authorizerID, model)
	checkIssuers(t, c, model)
	if len(integrations.Items) != len(routed) {
		t.Errorf("API has %d integrations, want one per routed function (%d)", len(integrations.Items), len(routed))
	}
	if len(routes.Items) != len(routed) {
		t.Errorf("API has %d routes, want one per route key (%d)", len(routes.Items), len(routed))
	}

	checkReachesFunction(t, baseURL, model)
	checkProtectedRouteRefuses(t, baseURL, model)
}

// liveAccount is the emulator's account, asked as the deployer asks it:
// the model the deployer applied is built for it.
func liveAccount(t *testing.T, c clients) string {
	t.Helper()
	id, err := c.sts.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(id.Account)
}

// oldStack turns part of the deployed stack into what the deployer made
// before it applied the model: the API named <prefix>-http; the first
// routed function's role with its description then and its one inline
// policy named after the role; that function tracing PassThrough and
// logging Text, without a log group, and invocable from API Gateway under
// the grant id of then. It returns the progress lines the next deploy must
// print as it brings each back.
func oldStack(t *testing.T, c clients, model *deployment.Deployment, account string) []string {
	t.Helper()
	ctx := t.Context()
	byName, err := (&deployer{clients: c}).listHTTPAPIs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(byName[model.API.Name]) != 1 {
		t.Fatalf("APIs named %s: %v, want 1", model.API.Name, apiIDs(byName[model.API.Name]))
	}
	apiID := apiIDs(byName[model.API.Name])[0]
	old := legacyAPIName(testPrefix)
	if _, err := c.apigw.UpdateApi(ctx, &apigatewayv2.UpdateApiInput{ApiId: &apiID, Name: &old}); err != nil {
		t.Fatalf("rename API %s to %s: %v", apiID, old, err)
	}

	fn := model.Routes()[0]
	role := fn.Role.Name
	oldPolicy := mustJSON(fn.Role.Policy)
	if _, err := c.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &role, PolicyName: &role, PolicyDocument: &oldPolicy}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.iam.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: &role, PolicyName: &fn.Role.PolicyName}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.iam.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: &role, Description: aws.String("shop function " + fn.Name)}); err != nil {
		t.Fatal(err)
	}

	_, err = c.lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName:  &fn.FunctionName,
		TracingConfig: &ltypes.TracingConfig{Mode: ltypes.TracingModePassThrough},
		LoggingConfig: &ltypes.LoggingConfig{LogFormat: ltypes.LogFormatText},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := (&deployer{clients: c}).waitFunctionReady(ctx, fn.FunctionName); err != nil {
		t.Fatal(err)
	}
	if _, err := c.logs.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: &fn.LogGroup}); err != nil {
		t.Fatal(err)
	}

	if _, err := c.lambda.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: &fn.FunctionName, StatementId: aws.String(deployment.RoutePermissionID)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.lambda.AddPermission(ctx, &lambda.AddPermissionInput{
		FunctionName: &fn.FunctionName,
		StatementId:  aws.String(legacyStatementPrefix + apiID),
		Action:       aws.String("lambda:InvokeFunction"),
		Principal:    aws.String("apigateway.amazonaws.com"),
		SourceArn:    aws.String(executeAPIARN(c.region, account, apiID) + "/" + fn.Route.InvokeSource),
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{
		progressLine("api", model.API.Name, statusUpdated),
		progressLine("role", role, statusUpdated),
		progressLine("log group", fn.LogGroup, statusCreated),
		progressLine("function", fn.FunctionName, statusUpdated),
		progressLine("permission", fn.FunctionName, statusUpdated),
	}
	return append(lines, oldSettings(t, c, model, apiID)...)
}

// What removedManifest leaves beside the deployed stack, by manifest name.
const (
	goneName     = "users-gone"     // function, role and log group of a removed manifest: all go
	halfName     = "users-half"     // role and log group of one a cut-short prune left: both go
	handmadeName = "users-handmade" // a role with no function, not the deployer's: it stays
	nestedName   = "users-get"      // function and role of the nested stack nestedPrefix: they stay
)

// nestedPrefix is a stack whose names all begin with testPrefix's.
const nestedPrefix = testPrefix + "-x"

// removedManifest makes, through the AWS API, what the deployer left of a
// manifest removed since it deployed it: the function goneName with
// SHOP_PREFIX=<prefix>, its role (the Lambda trust, the model's inline
// policy name) and its log group; and what a prune cut short after it
// deleted a function leaves, halfName's role and log group. Beside them,
// what the next deploy must not touch: the role handmadeName, whose
// function is gone too but which has an inline policy the deployer never
// writes, and the function and role nestedName of the stack nestedPrefix
// (SHOP_PREFIX=<prefix>-x). It returns the progress lines the next deploy
// must print as it deletes the first set, and removes everything it made
// when the test ends.
func removedManifest(t *testing.T, c clients, model *deployment.Deployment) []string {
	t.Helper()
	ctx := t.Context()
	shape := model.Functions[0].Role
	gone, half := naming.Function(testPrefix, goneName), naming.Function(testPrefix, halfName)
	handmade, nested := naming.Function(testPrefix, handmadeName), naming.Function(nestedPrefix, nestedName)
	removeLeftovers(t, c, []string{gone, nested}, []string{gone, half, handmade, nested},
		[]string{naming.LogGroup(testPrefix, goneName), naming.LogGroup(testPrefix, halfName)})

	// Each was removed just now, so "already exists" below is the test's own
	// create, retried after the emulator lost its response (retried.go).
	roleARN := map[string]string{}
	for role, policyName := range map[string]string{gone: shape.PolicyName, half: shape.PolicyName, handmade: "hand-made", nested: shape.PolicyName} {
		_, err := c.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(role), AssumeRolePolicyDocument: aws.String(mustJSON(shape.Trust))})
		if err != nil && !awserr.HasCode(err, "EntityAlreadyExists") {
			t.Fatalf("role %s: %v", role, err)
		}
		got, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)})
		if err != nil {
			t.Fatalf("role %s: %v", role, err)
		}
		roleARN[role] = aws.ToString(got.Role.Arn)
		_, err = c.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(policyName), PolicyDocument: aws.String(mustJSON(shape.Policy))})
		if err != nil {
			t.Fatalf("role %s: %v", role, err)
		}
	}
	for _, group := range []string{naming.LogGroup(testPrefix, goneName), naming.LogGroup(testPrefix, halfName)} {
		if _, err := c.logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: &group}); err != nil && !awserr.HasCode(err, "ResourceAlreadyExistsException") {
			t.Fatalf("log group %s: %v", group, err)
		}
	}
	code, err := zipBootstrap([]byte("#!/bin/sh\nexit 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	for fn, stack := range map[string]string{gone: testPrefix, nested: nestedPrefix} {
		_, err := c.lambda.CreateFunction(ctx, &lambda.CreateFunctionInput{
			FunctionName: aws.String(fn),
			Role:         aws.String(roleARN[fn]),
			Runtime:      ltypes.Runtime(deployment.Runtime),
			Handler:      aws.String(deployment.Handler),
			Code:         &ltypes.FunctionCode{ZipFile: code},
			Environment:  &ltypes.Environment{Variables: map[string]string{prefixVariable: stack}},
		})
		if err != nil && !awserr.HasCode(err, "ResourceConflictException") {
			t.Fatalf("function %s: %v", fn, err)
		}
		if err := (&deployer{clients: c}).waitFunctionReady(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	return []string{
		progressLine("function", gone, statusDeleted),
		progressLine("log group", naming.LogGroup(testPrefix, goneName), statusDeleted),
		progressLine("role", gone, statusDeleted),
		progressLine("log group", naming.LogGroup(testPrefix, halfName), statusDeleted),
		progressLine("role", half, statusDeleted),
	}
}

// removeLeftovers deletes the functions, roles (their inline policies
// first) and log groups, whichever are there: now, what an earlier run
// that failed left; when the test ends, what it made.
func removeLeftovers(t *testing.T, c clients, functions, roles, groups []string) {
	t.Helper()
	remove := func(ctx context.Context) {
		for _, fn := range functions {
			if _, err := c.lambda.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: &fn}); err != nil && !awserr.HasCode(err, "ResourceNotFoundException") {
				t.Errorf("clean up function %s: %v", fn, err)
			}
		}
		for _, role := range roles {
			policies, err := (&deployer{clients: c}).inlinePolicies(ctx, role)
			if awserr.HasCode(err, "NoSuchEntity") {
				continue
			}
			if err != nil {
				t.Errorf("clean up role %s: %v", role, err)
				continue
			}
			for _, p := range policies {
				if _, err := c.iam.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: &role, PolicyName: &p}); err != nil {
					t.Errorf("clean up role %s: policy %s: %v", role, p, err)
				}
			}
			if _, err := c.iam.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: &role}); err != nil {
				t.Errorf("clean up role %s: %v", role, err)
			}
		}
		for _, group := range groups {
			if _, err := c.logs.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: &group}); err != nil && !awserr.HasCode(err, "ResourceNotFoundException") {
				t.Errorf("clean up log group %s: %v", group, err)
			}
		}
	}
	remove(t.Context())
	// The test's context is done by the time cleanups run.
	t.Cleanup(func() { remove(context.Background()) })
}

// checkPruned checks that the deploy after removedManifest deleted what a
// removed manifest left, and left alone the nested stack's function and
// role and the role that is not the deployer's.
func checkPruned(t *testing.T, c clients, model *deployment.Deployment) {
	t.Helper()
	ctx := t.Context()
	d := &deployer{clients: c}
	gone := naming.Function(testPrefix, goneName)
	if _, err := c.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &gone}); !awserr.HasCode(err, "ResourceNotFoundException") {
		t.Errorf("function %s of a removed manifest: %v, want it deleted", gone, err)
	}
	for _, name := range []string{goneName, halfName} {
		role, group := naming.Function(testPrefix, name), naming.LogGroup(testPrefix, name)
		if _, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: &role}); !awserr.HasCode(err, "NoSuchEntity") {
			t.Errorf("role %s of a removed manifest: %v, want it deleted", role, err)
		}
		if _, found, err := d.describeLogGroup(ctx, group); found || err != nil {
			t.Errorf("log group %s of a removed manifest: found %v (%v), want it deleted", group, found, err)
		}
	}

	nested := naming.Function(nestedPrefix, nestedName)
	got, err := c.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &nested})
	if err != nil {
		t.Errorf("function %s of the stack %s: %v, want it left alone", nested, nestedPrefix, err)
	} else if env := haveConfig(got.Configuration).Env; env[prefixVariable] != nestedPrefix {
		t.Errorf("function %s of the stack %s: environment %v, want it left alone", nested, nestedPrefix, env)
	}
	handmade := naming.Function(testPrefix, handmadeName)
	for role, policy := range map[string]string{nested: model.Functions[0].Role.PolicyName, handmade: "hand-made"} {
		if policies, err := d.inlinePolicies(ctx, role); err != nil || !slices.Equal(policies, []string{policy}) {
			t.Errorf("role %s: inline policies %v (%v), want it left alone with [%s]", role, policies, err, policy)
		}
	}
}

// oldSettings turns the settings the deployer did not apply before the
// model had them into what it left then, or into another value: the first
// table unencrypted, without point-in-time recovery and protected from
// deletion; the access log group kept a day; the stage throttled
// otherwise, with route settings for a route that hashes no passwords
// (and none for those that do) and another access log format.
func oldSettings(t *testing.T, c clients, model *deployment.Deployment, apiID string) []string {
	t.Helper()
	ctx := t.Context()
	d := &deployer{clients: c}
	table := model.Tables[0].Name
	for _, in := range []*dynamodb.UpdateTableInput{
		{TableName: &table, SSESpecification: &dtypes.SSESpecification{Enabled: aws.Bool(false)}},
		{TableName: &table, DeletionProtectionEnabled: aws.Bool(true)},
	} {
		if _, err := c.ddb.UpdateTable(ctx, in); err != nil {
			t.Fatalf("table %s: %v", table, err)
		}
		if err := d.waitTableActive(ctx, table, ""); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.ddb.UpdateContinuousBackups(ctx, &dynamodb.UpdateContinuousBackupsInput{
		TableName:                        &table,
		PointInTimeRecoverySpecification: &dtypes.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(false)},
	})
	if err != nil {
		t.Fatalf("table %s: %v", table, err)
	}

	group := model.API.AccessLogGroup
	if _, err := c.logs.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: &group, RetentionInDays: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}

	var open string
	for _, fn := range model.Routes() {
		if !fn.HashesPasswords {
			open = fn.Route.RouteKey
			break
		}
	}
	_, err = c.apigw.UpdateStage(ctx, &apigatewayv2.UpdateStageInput{
		ApiId:                &apiID,
		StageName:            &model.API.Stage,
		DefaultRouteSettings: &gtypes.RouteSettings{ThrottlingBurstLimit: aws.Int32(20), ThrottlingRateLimit: aws.Float64(10)},
		RouteSettings:        map[string]gtypes.RouteSettings{open: {ThrottlingBurstLimit: aws.Int32(1), ThrottlingRateLimit: aws.Float64(1)}},
		AccessLogSettings:    &gtypes.AccessLogSettings{DestinationArn: aws.String(accessLogARN(t, c, model)), Format: aws.String(`{"requestId":"$context.requestId"}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.apigw.GetStage(ctx, &apigatewayv2.GetStageInput{ApiId: &apiID, StageName: &model.API.Stage})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.RouteSettings[open]; !ok {
		t.Fatalf("stage %s: route settings %v after setting them for %s", model.API.Stage, got.RouteSettings, open)
	}
	return []string{
		progressLine("table", table, statusUpdated),
		progressLine("log group", group, statusUpdated),
		progressLine("stage", model.API.Name+" "+model.API.Stage, statusUpdated),
	}
}

// accessLogARN is the ARN of the model's access log group in the form
// Terraform's aws_cloudwatch_log_group.arn gives (provider 5.x): no ":*".
func accessLogARN(t *testing.T, c clients, model *deployment.Deployment) string {
	t.Helper()
	return "arn:aws:logs:" + c.region + ":" + liveAccount(t, c) + ":log-group:" + model.API.AccessLogGroup
}

// checkAuthorizer checks that the API has exactly one authorizer of the
// model's name, configured as the model says, and returns its id ("" when
// the model has none).
func checkAuthorizer(t *testing.T, c clients, apiID string, model *deployment.Deployment) string {
	t.Helper()
	out, err := c.apigw.GetAuthorizers(t.Context(), &apigatewayv2.GetAuthorizersInput{ApiId: &apiID})
	if err != nil {
		t.Fatal(err)
	}
	name := naming.Authorizer(testPrefix)
	var found []gtypes.Authorizer
	for _, a := range out.Items {
		if aws.ToString(a.Name) == name {
			found = append(found, a)
		}
	}
	a := model.API.Authorizer
	if a == nil {
		if len(found) != 0 {
			t.Errorf("%d authorizers named %s, want none: the model has none", len(found), name)
		}
		return ""
	}
	if len(found) != 1 {
		t.Fatalf("%d authorizers named %s, want exactly 1", len(found), name)
	}
	fn := model.Function(a.Function)
	got, err := c.lambda.GetFunction(t.Context(), &lambda.GetFunctionInput{FunctionName: &fn.FunctionName})
	if err != nil {
		t.Fatalf("authorizer function %s: %v", fn.FunctionName, err)
	}
	want := wantAuthorizer(a, authorizerURI(c.region, aws.ToString(got.Configuration.FunctionArn)))
	if diff := authorizerDiff(want, found[0]); len(diff) > 0 {
		t.Errorf("authorizer %s differs from the model in %v: %+v", name, diff, found[0])
	}
	return aws.ToString(found[0].AuthorizerId)
}

// checkFunctionsAreTheModel reads back each function's configuration, its
// role and its log group and compares them with the model: the
// configuration field by field (the environment is the model's plus the
// local test switches), the role's trust, description and one inline
// policy by meaning, the log group's retention.
func checkFunctionsAreTheModel(t *testing.T, c clients, model *deployment.Deployment, apiURL string) {
	t.Helper()
	ctx := t.Context()
	bindings := stackBindings(model, apiURL)
	for _, q := range modelQueues(model) {
		url, err := c.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &q.Name})
		if err != nil {
			t.Errorf("queue %s: %v", q.Name, err)
			continue
		}
		bindings.queues[q.Name] = aws.ToString(url.QueueUrl)
	}
	for i := range model.Functions {
		fn := &model.Functions[i]
		role, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: &fn.Role.Name})
		if err != nil {
			t.Errorf("role %s: %v", fn.Role.Name, err)
			continue
		}
		if !samePolicy(aws.ToString(role.Role.AssumeRolePolicyDocument), mustJSON(fn.Role.Trust)) || aws.ToString(role.Role.Description) != fn.Role.Description {
			t.Errorf("role %s: trust %s, description %q; want the model's %s, %q", fn.Role.Name,
				decodePolicy(aws.ToString(role.Role.AssumeRolePolicyDocument)), aws.ToString(role.Role.Description), mustJSON(fn.Role.Trust), fn.Role.Description)
		}
		policies, err := (&deployer{clients: c}).inlinePolicies(ctx, fn.Role.Name)
		if err != nil || !slices.Equal(policies, []string{fn.Role.PolicyName}) {
			t.Errorf("role %s: inline policies %v (%v), want exactly [%s]", fn.Role.Name, policies, err, fn.Role.PolicyName)
		}
		doc, err := c.iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &fn.Role.Name, PolicyName: &fn.Role.PolicyName})
		if err != nil || !samePolicy(aws.ToString(doc.PolicyDocument), mustJSON(fn.Role.Policy)) {
			t.Errorf("role %s: policy %s (%v), want the model's %s", fn.Role.Name, decodePolicy(aws.ToString(doc.PolicyDocument)), err, mustJSON(fn.Role.Policy))
		}

		got, err := c.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &fn.FunctionName})
		if err != nil {
			t.Errorf("function %s: %v", fn.FunctionName, err)
			continue
		}
		have := haveConfig(got.Configuration)
		want, err := wantConfig(fn, aws.ToString(role.Role.Arn), bindings)
		if err != nil {
			t.Error(err)
			continue
		}
		if diff := configDiff(want, have); len(diff) > 0 {
			t.Errorf("function %s differs from the model in %v: %+v", fn.FunctionName, diff, have)
		}
		if have.Env[faults.EnvSwitch] != "1" || have.Env[awscalls.EnvSwitch] != "1" {
			t.Errorf("function %s: the local test switches are off: %v", fn.FunctionName, have.Env)
		}
		if have.Env[traceDaemonVariable] != bindings.traceDaemon || bindings.traceDaemon == "" {
			t.Errorf("function %s: %s=%q, want the emulator's trace collector %q", fn.FunctionName, traceDaemonVariable, have.Env[traceDaemonVariable], bindings.traceDaemon)
		}

		checkLogGroup(t, c, fn.LogGroup, model)
	}
}

// checkLogGroup checks that the log group exists, kept as long as the
// model says.
func checkLogGroup(t *testing.T, c clients, group string, model *deployment.Deployment) {
	t.Helper()
	g, found, err := (&deployer{clients: c}).describeLogGroup(t.Context(), group)
	if retention := aws.ToInt32(g.RetentionInDays); err != nil || !found || int(retention) != model.Settings.LogRetentionDays {
		t.Errorf("log group %s: found %v, retention %d (%v); want it kept %d days", group, found, retention, err, model.Settings.LogRetentionDays)
	}
}

// checkStage checks the API's stage against the model: auto-deployed;
// every route throttled as the settings say, and the routes of functions
// that hash passwords, and only those, throttled tighter; access logs in
// the model's format to the access log group, named by its ARN in the
// form Terraform gives it, kept as long as the model says.
func checkStage(t *testing.T, c clients, apiID string, model *deployment.Deployment) {
	t.Helper()
	got, err := c.apigw.GetStage(t.Context(), &apigatewayv2.GetStageInput{ApiId: &apiID, StageName: &model.API.Stage})
	if err != nil {
		t.Fatalf("stage %s: %v", model.API.Stage, err)
	}
	want := stageSpec{
		autoDeploy:   true,
		defaultRoute: throttle(model.Settings.Throttling),
		routes:       map[string]gtypes.RouteSettings{},
		accessLog:    gtypes.AccessLogSettings{DestinationArn: aws.String(accessLogARN(t, c, model)), Format: aws.String(model.API.AccessLogFormat)},
	}
	passwords := 0
	for _, fn := range model.Routes() {
		if fn.HashesPasswords {
			want.routes[fn.Route.RouteKey] = throttle(model.Settings.PasswordThrottling)
			passwords++
		}
	}
	if passwords == 0 {
		t.Error("no route hashes passwords: the password throttling is not exercised")
	}
	if diff := stageDiff(want, haveStage(got)); len(diff) > 0 {
		t.Errorf("stage %s differs from the model in %v: auto-deploy %v, default route %s, routes %s, access log %s",
			model.API.Stage, diff, aws.ToBool(got.AutoDeploy), mustJSON(got.DefaultRouteSettings), mustJSON(got.RouteSettings), mustJSON(got.AccessLogSettings))
	}
	checkLogGroup(t, c, model.API.AccessLogGroup, model)
}

// checkTables checks every table's encryption (the AWS-managed key),
// point-in-time recovery and deletion protection (off on the local stack).
func checkTables(t *testing.T, c clients, model *deployment.Deployment) {
	t.Helper()
	want := tableSettings{
		Encrypted:           model.Settings.ServerSideEncryption,
		PointInTimeRecovery: model.Settings.PointInTimeRecovery,
	}
	for _, tbl := range model.Tables {
		d, err := c.ddb.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: &tbl.Name})
		if err != nil {
			t.Errorf("table %s: %v", tbl.Name, err)
			continue
		}
		b, err := c.ddb.DescribeContinuousBackups(t.Context(), &dynamodb.DescribeContinuousBackupsInput{TableName: &tbl.Name})
		if err != nil {
			t.Errorf("table %s: %v", tbl.Name, err)
			continue
		}
		if have := haveTableSettings(d.Table, b.ContinuousBackupsDescription); have != want {
			t.Errorf("table %s: %+v (encryption %s), want %+v", tbl.Name, have, mustJSON(d.Table.SSEDescription), want)
		}
		if sse := d.Table.SSEDescription; want.Encrypted && (sse == nil || sse.SSEType != dtypes.SSETypeKms) {
			t.Errorf("table %s: encryption %s, want the AWS-managed KMS key", tbl.Name, mustJSON(sse))
		}
	}
}

// checkGrants checks that API Gateway may invoke each routed function from
// its own route only, and the authorizer function from the authorizer
// only, each under the model's statement id and through no other grant.
func checkGrants(t *testing.T, c clients, apiID, authorizerID string, model *deployment.Deployment) {
	t.Helper()
	d := &deployer{clients: c}
	execution := executeAPIARN(c.region, liveAccount(t, c), apiID)
	want := map[string]map[string]string{}
	for _, fn := range model.Routes() {
		want[fn.FunctionName] = map[string]string{deployment.RoutePermissionID: execution + "/" + fn.Route.InvokeSource}
	}
	if a := model.API.Authorizer; a != nil {
		want[model.Function(a.Function).FunctionName] = map[string]string{deployment.AuthorizerPermissionID: execution + "/authorizers/" + authorizerID}
	}
	for fn, grants := range want {
		got, err := d.apiGatewayGrants(t.Context(), fn)
		if err != nil || !maps.Equal(got, grants) {
			t.Errorf("function %s: API Gateway grants %v (%v), want exactly %v", fn, got, err, grants)
		}
	}
}

// checkPermissionSurvivesALostResponse grants a route's permission anew
// through a Lambda client that loses AddPermission's response after the
// emulator applied it (as MiniStack does under load now and then): the
// SDK's retry meets the statement its first attempt added, which is
// success, not a conflict.
func checkPermissionSurvivesALostResponse(t *testing.T, c clients, apiID, authorizerID string, model *deployment.Deployment) {
	t.Helper()
	fn := model.Routes()[0]
	sid := deployment.RoutePermissionID
	if _, err := c.lambda.RemovePermission(t.Context(), &lambda.RemovePermissionInput{FunctionName: &fn.FunctionName, StatementId: &sid}); err != nil {
		t.Fatalf("remove %s's grant: %v", fn.FunctionName, err)
	}
	lossy := &loseOnce{next: awshttp.NewBuildableClient(), match: func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/policy")
	}}
	d := &deployer{clients: c, p: newProgress(io.Discard)}
	d.lambda = lambda.New(c.lambda.Options(), func(o *lambda.Options) { o.HTTPClient = lossy })
	source := executeAPIARN(c.region, liveAccount(t, c), apiID) + "/" + fn.Route.InvokeSource
	if err := d.ensureInvokePermission(t.Context(), fn.FunctionName, sid, source); err != nil {
		t.Fatalf("ensureInvokePermission with AddPermission's response lost: %v", err)
	}
	if lossy.sent.Load() < 2 {
		t.Fatalf("AddPermission sent %d times: the loss did not happen, the test proves nothing", lossy.sent.Load())
	}
	checkGrants(t, c, apiID, authorizerID, model)
}

// loseFirst sends every request and loses the response to the first call
// of each kind (operation and resource) that match admits (nil: every
// kind), after the server applied it.
type loseFirst struct {
	next    aws.HTTPClient
	match   func(kind string) bool
	mu      sync.Mutex
	seen    map[string]int // kind -> calls sent
	lost    int
	retried int // calls sent again after their first response was lost
}

func newLoseFirst() *loseFirst { return newLoseFirstOf(nil) }

func newLoseFirstOf(match func(kind string) bool) *loseFirst {
	return &loseFirst{next: awshttp.NewBuildableClient(), match: match, seen: map[string]int{}}
}

func (l *loseFirst) lostCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

func (l *loseFirst) retriedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.retried
}

// isDelete admits the kinds of call that delete: IAM's and CloudWatch
// Logs' Delete* actions, REST DELETEs (Lambda, API Gateway).
func isDelete(kind string) bool {
	return strings.HasPrefix(kind, "Delete") || strings.Contains(kind, ".Delete") || strings.HasPrefix(kind, http.MethodDelete+" ")
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
	admitted := l.match == nil || l.match(kind)
	l.seen[kind]++
	lose := admitted && l.seen[kind] == 1
	if admitted && l.seen[kind] == 2 {
		l.retried++
	}
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
func checkIssuers(t *testing.T, c clients, model *deployment.Deployment) {
	t.Helper()
	issuers := model.Issuers
	for _, iss := range issuers {
		secret, err := c.sm.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: &iss.SigningSecret})
		if err != nil {
			t.Errorf("issuer %s: secret %s: %v", iss.Issuer, iss.SigningSecret, err)
			continue
		}
		if got := aws.ToString(secret.Description); got != iss.SecretDescription {
			t.Errorf("issuer %s: secret %s has description %q, want the model's %q", iss.Issuer, iss.SigningSecret, got, iss.SecretDescription)
		}
	}
	param := model.JWKSParameter
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
func checkProtectedRouteRefuses(t *testing.T, baseURL string, model *deployment.Deployment) {
	t.Helper()
	var target *deployment.Route
	for _, fn := range model.Routes() {
		if fn.Route.AuthorizationType == string(gtypes.AuthorizationTypeCustom) {
			target = fn.Route
			break
		}
	}
	if target == nil {
		t.Log("no protected route declared; skipping the authorizer check")
		return
	}
	url := baseURL + samplePath(target.Path)
	client := &http.Client{Timeout: 30 * time.Second}
	for _, tc := range []struct {
		authorization string
		want          int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer not-a-token", http.StatusForbidden},
	} {
		req, err := http.NewRequestWithContext(t.Context(), target.Method, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.authorization != "" {
			req.Header.Set("Authorization", tc.authorization)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", target.Method, url, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s with Authorization %q: %d %s, want %d", target.Method, target.Path, tc.authorization, resp.StatusCode, body, tc.want)
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
func checkReachesFunction(t *testing.T, baseURL string, model *deployment.Deployment) {
	t.Helper()
	var target *deployment.Function
	for _, fn := range model.Routes() {
		if fn.Route.RouteKey == "POST /v1/users" {
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
	fromFunction := resp.StatusCode == http.StatusNotImplemented && strings.Contains(string(body), target.FunctionName) ||
		resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusNotFound ||
		resp.StatusCode < 300
	if !fromFunction {
		t.Errorf("POST /v1/users: %d %s, want an answer from %s", resp.StatusCode, body, target.Name)
	}
}

// reportsChange tells whether a line of a deploy's report says it changed
// something: every line but "unchanged", the sampling rules the emulator
// cannot take (said on every deploy), and the statuses in kept (what a
// test expects to stay, such as a table kept on pruning).
func reportsChange(line string, kept ...string) bool {
	for _, status := range append([]string{statusUnchanged, statusNoXRay}, kept...) {
		if strings.HasSuffix(line, " "+status) {
			return false
		}
	}
	return true
}
