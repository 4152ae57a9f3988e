package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	stypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/paymentkey"
)

// sfnTestPrefix keeps the state machine test's stack apart from the main
// live test's (shoptest) and a developer's (shop); fixed, so repeated runs
// reuse what the last one left.
const sfnTestPrefix = "shopsfn"

// The state machine fixture: a service with a tiny JSONata state machine
// that invokes one echo step; an http function that may start it and has
// both bindings (SHOP_API_URL, SHOP_PAYMENT_PROVIDER_URL); and a localOnly
// payment provider simulator. Every function is the same echo binary.
const (
	sfnFixtureService = `service: sfnfix
description: The state machine fixture of the deployer's live test.
table: {partitionKey: {name: pk, type: S}}
stateMachines:
  - {name: flow, description: Echoes its input through one step., definition: flow.asl.json}
`
	sfnFixtureDefinition = `{
  "QueryLanguage": "JSONata",
  "Comment": "%s",
  "StartAt": "Echo",
  "States": {
    "Echo": {
      "Type": "Task",
      "Resource": "arn:aws:states:::lambda:invoke",
      "Arguments": {"FunctionName": "${step:sfnfix-echo}", "Payload": "{%% $states.input %%}"},
      "Output": "{%% $states.result.Payload %%}",
      "TimeoutSeconds": 10,
      "Retry": [{"ErrorEquals": ["Transient"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 2}],
      "Next": "Done"
    },
    "Done": {"Type": "Succeed"}
  }
}`
	sfnFixtureStep = `name: sfnfix-echo
description: Echoes its input.
kind: step
memory: 128
timeout: 5
`
	sfnFixtureStart = `name: sfnfix-start
description: Starts the flow.
kind: http
http: {method: POST, path: /v1/sfnfix, auth: none}
memory: 128
timeout: 5
permissions: {startExecution: [flow], calls: [sfnfix], paymentProvider: true}
`
	sfnFixtureStartNoFlow = `name: sfnfix-start
description: Starts the flow.
kind: http
http: {method: POST, path: /v1/sfnfix, auth: none}
memory: 128
timeout: 5
permissions: {calls: [sfnfix], paymentProvider: true}
`
	sfnFixtureSimService = `service: sfnsim
description: The payment provider simulator of the fixture.
localOnly: true
table: {partitionKey: {name: pk, type: S}}
`
	sfnFixtureSim = `name: sfnsim-charges
description: Simulated charges.
kind: http
http: {method: POST, path: /provider/v1/charges, auth: none}
memory: 128
timeout: 5
permissions: {paymentProvider: true}
`
	sfnFixtureMain = `package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

// main echoes every invocation's payload back as {"seen": payload}.
func main() {
	lambda.Start(func(_ context.Context, in json.RawMessage) (map[string]json.RawMessage, error) {
		return map[string]json.RawMessage{"seen": in}, nil
	})
}
`
)

// sfnFixture writes the fixture tree under the repository's build/
// (git-ignored): inside the module, so the functions build against its
// go.mod. comment goes into the definition, so a test can change it.
func sfnFixture(t *testing.T, withFlow bool, comment string) string {
	t.Helper()
	root := filepath.Join("..", "..", "build", "deploy-sfn-fixture")
	if err := os.RemoveAll(filepath.Join(root, "functions")); err != nil {
		t.Fatal(err)
	}
	service, start := sfnFixtureService, sfnFixtureStart
	if !withFlow {
		service = strings.Split(sfnFixtureService, "stateMachines:")[0]
		start = sfnFixtureStartNoFlow
	}
	files := map[string]string{
		"sfnfix/service.yaml":          service,
		"sfnfix/flow.asl.json":         strings.ReplaceAll(sfnFixtureDefinition, "%s", comment),
		"sfnfix/echo/function.yaml":    sfnFixtureStep,
		"sfnfix/echo/main.go":          sfnFixtureMain,
		"sfnfix/start/function.yaml":   start,
		"sfnfix/start/main.go":         sfnFixtureMain,
		"sfnsim/service.yaml":          sfnFixtureSimService,
		"sfnsim/charges/function.yaml": sfnFixtureSim,
		"sfnsim/charges/main.go":       sfnFixtureMain,
	}
	for name, body := range files {
		if !withFlow && name == "sfnfix/flow.asl.json" {
			continue
		}
		body = strings.ReplaceAll(body, "%%", "%")
		path := filepath.Join(root, "functions", name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestLiveStateMachineDeployRedeployPrune deploys the fixture: a JSONata
// state machine (with its role, log group, logging and tracing), the
// payment provider's secret, and functions whose bindings need the API's
// URL; checks each against the model and runs the state machine; deploys
// again, which must report nothing but unchanged and leave the secret's
// value alone; changes the definition, which must update the state machine
// in place; and removes the state machine from the manifest, which must
// delete it with its log group and role.
//
//	SHOP_DEPLOY_TEST_ENDPOINT=http://127.0.0.1:4566 go test ./localstack/deploy -run LiveStateMachine
func TestLiveStateMachineDeployRedeployPrune(t *testing.T) {
	endpoint := os.Getenv("SHOP_DEPLOY_TEST_ENDPOINT")
	if endpoint == "" {
		t.Skip("set SHOP_DEPLOY_TEST_ENDPOINT (e.g. http://127.0.0.1:4566) to deploy to a running emulator")
	}
	ctx := t.Context()
	root := sfnFixture(t, true, "first")
	deployFixture := func(what string) (string, string) {
		t.Helper()
		var out bytes.Buffer
		args := []string{"-root", root, "-endpoint", endpoint, "-prefix", sfnTestPrefix,
			"-out", filepath.Join("build", "local"), "-url-file", filepath.Join(t.TempDir(), "api-url")}
		if err := run(ctx, args, &out); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, &out)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		return out.String(), lines[len(lines)-1]
	}

	first, baseURL := deployFixture("first deploy")
	c, err := newClients(ctx, endpoint, nil)
	if err != nil {
		t.Fatal(err)
	}
	set, err := manifest.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	model, err := deployment.Build(set, deployment.Params{Prefix: sfnTestPrefix, Region: c.region, Account: liveAccount(t, c)})
	if err != nil {
		t.Fatal(err)
	}
	sm := model.StateMachine("sfnfix-flow")
	if sm == nil {
		t.Fatal("the fixture's model has no state machine sfnfix-flow")
	}
	if !strings.Contains(first, "sfn         "+sm.StateMachineName) {
		t.Errorf("first deploy did not report the state machine:\n%s", first)
	}
	checkStateMachineIsTheModel(t, c, model, sm)
	checkFunctionsAreTheModel(t, c, model, baseURL)
	start := model.Function("sfnfix-start")
	got, err := c.lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &start.FunctionName})
	if err != nil {
		t.Fatal(err)
	}
	env := got.Configuration.Environment.Variables
	if env[manifest.EnvAPIURL] != baseURL || env[manifest.EnvPaymentProviderURL] != baseURL+deployment.PaymentSimulatorPath ||
		env[manifest.EnvStateMachine("flow")] != sm.ARN {
		t.Errorf("%s: bindings %s=%q %s=%q %s=%q; want the API %q, its simulator path, and the state machine",
			start.FunctionName, manifest.EnvAPIURL, env[manifest.EnvAPIURL], manifest.EnvPaymentProviderURL, env[manifest.EnvPaymentProviderURL],
			manifest.EnvStateMachine("flow"), env[manifest.EnvStateMachine("flow")], baseURL)
	}
	secret := secretValue(t, c, model.PaymentProvider.Secret)
	// Read as payments and the simulator read it.
	key, err := paymentkey.New(func() paymentkey.SecretReader { return c.sm }, model.PaymentProvider.Secret).Token(context.Background())
	if err != nil || len(key) < 32 {
		t.Errorf("payment provider secret %s holds %q (%v), want {\"apiKey\": <random>}", model.PaymentProvider.Secret, secret, err)
	}
	checkExecutionEchoes(t, c, sm)

	second, _ := deployFixture("second deploy")
	lines := strings.Split(strings.TrimSpace(second), "\n")
	for _, l := range lines[:len(lines)-1] {
		if reportsChange(l) {
			t.Errorf("second deploy changed something: %q", l)
		}
	}
	if again := secretValue(t, c, model.PaymentProvider.Secret); again != secret {
		t.Errorf("the second deploy changed the payment provider secret's value")
	}

	sfnFixture(t, true, "second")
	changed, _ := deployFixture("deploy of a changed definition")
	if !strings.Contains(changed, progressLine("sfn", sm.StateMachineName, statusUpdated)) {
		t.Errorf("a changed definition did not update the state machine:\n%s", changed)
	}
	out, err := c.sfn.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: &sm.ARN})
	if err != nil || !strings.Contains(aws.ToString(out.Definition), `"second"`) {
		t.Errorf("state machine after the update: %v, definition %s", err, aws.ToString(out.Definition))
	}

	sfnFixture(t, false, "")
	pruned, _ := deployFixture("deploy without the state machine")
	for _, want := range []string{
		progressLine("sfn", sm.StateMachineName, statusDeleted),
		progressLine("log group", sm.LogGroup, statusDeleted),
		progressLine("role", sm.Role.Name, statusDeleted),
	} {
		if !strings.Contains(pruned, want) {
			t.Errorf("pruning did not report %q:\n%s", want, pruned)
		}
	}
	if _, err := c.sfn.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: &sm.ARN}); !awserr.HasCode(err, "StateMachineDoesNotExist") {
		t.Errorf("state machine %s after pruning: %v, want StateMachineDoesNotExist", sm.StateMachineName, err)
	}
	if _, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: &sm.Role.Name}); !awserr.HasCode(err, "NoSuchEntity") {
		t.Errorf("role %s after pruning: %v, want NoSuchEntity", sm.Role.Name, err)
	}
	if _, found, err := (&deployer{clients: c}).describeLogGroup(ctx, sm.LogGroup); err != nil || found {
		t.Errorf("log group %s after pruning: found %v (%v)", sm.LogGroup, found, err)
	}
}

// checkStateMachineIsTheModel checks the deployed state machine, its role
// and its log group against the model.
func checkStateMachineIsTheModel(t *testing.T, c clients, model *deployment.Deployment, sm *deployment.StateMachine) {
	t.Helper()
	ctx := t.Context()
	out, err := c.sfn.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: &sm.ARN})
	if err != nil {
		t.Fatalf("state machine %s: %v", sm.StateMachineName, err)
	}
	role, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: &sm.Role.Name})
	if err != nil {
		t.Fatalf("role %s: %v", sm.Role.Name, err)
	}
	if !samePolicy(aws.ToString(role.Role.AssumeRolePolicyDocument), mustJSON(sm.Role.Trust)) {
		t.Errorf("role %s: trust %s, want the model's %s", sm.Role.Name, decodePolicy(aws.ToString(role.Role.AssumeRolePolicyDocument)), mustJSON(sm.Role.Trust))
	}
	doc, err := c.iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &sm.Role.Name, PolicyName: &sm.Role.PolicyName})
	if err != nil || !samePolicy(aws.ToString(doc.PolicyDocument), mustJSON(sm.Role.Policy)) {
		t.Errorf("role %s: policy %s (%v), want the model's %s", sm.Role.Name, decodePolicy(aws.ToString(doc.PolicyDocument)), err, mustJSON(sm.Role.Policy))
	}
	g, _, err := (&deployer{clients: c}).describeLogGroup(ctx, sm.LogGroup)
	if err != nil {
		t.Fatal(err)
	}
	checkLogGroup(t, c, sm.LogGroup, model)
	want := wantStateMachine(sm, aws.ToString(role.Role.Arn), logGroupARN(g))
	if diff := stateMachineDiff(want, haveStateMachine(out)); len(diff) > 0 {
		t.Errorf("state machine %s differs from the model in %v: %+v", sm.StateMachineName, diff, out)
	}
	if l := out.LoggingConfiguration; l == nil || l.Level != stypes.LogLevelError || l.IncludeExecutionData {
		t.Errorf("state machine %s logs %+v, want ERROR without execution data", sm.StateMachineName, l)
	}
}

// checkExecutionEchoes runs the fixture's state machine and checks its
// output came through the step; then starts the same execution again,
// which AWS answers with the running execution and MiniStack with
// ExecutionAlreadyExists (DESIGN §7c): either is "already started".
func checkExecutionEchoes(t *testing.T, c clients, sm *deployment.StateMachine) {
	t.Helper()
	ctx := t.Context()
	name := "echo-" + time.Now().UTC().Format("20060102T150405.000000000")
	name = strings.ReplaceAll(name, ".", "-")
	in := &sfn.StartExecutionInput{StateMachineArn: &sm.ARN, Name: &name, Input: aws.String(`{"x":1}`)}
	started, err := c.sfn.StartExecution(ctx, in)
	if err != nil {
		t.Fatalf("start %s: %v", sm.StateMachineName, err)
	}
	if _, err := c.sfn.StartExecution(ctx, in); err != nil && !awserr.HasCode(err, "ExecutionAlreadyExists") {
		t.Errorf("a repeated start: %v, want success or ExecutionAlreadyExists", err)
	}
	var out *sfn.DescribeExecutionOutput
	// The step is a function's first invocation: on an emulator loaded by
	// every other package of make test, its process can take tens of
	// seconds to start (live_events_test.go waits as long for a consumer).
	err = poll(ctx, "execution "+name, 90*time.Second, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		out, err = c.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: started.ExecutionArn})
		return err == nil && out.Status != stypes.ExecutionStatusRunning, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != stypes.ExecutionStatusSucceeded || !sameJSON(aws.ToString(out.Output), `{"seen":{"x":1}}`) {
		t.Errorf("execution %s: %s, output %s (error %s: %s); want SUCCEEDED with {\"seen\":{\"x\":1}}",
			name, out.Status, aws.ToString(out.Output), aws.ToString(out.Error), aws.ToString(out.Cause))
	}
}

func secretValue(t *testing.T, c clients, name string) string {
	t.Helper()
	out, err := c.sm.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: &name})
	if err != nil {
		t.Fatalf("secret %s: %v", name, err)
	}
	return aws.ToString(out.SecretString)
}
