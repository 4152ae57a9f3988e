package livediff

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	gtypes "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/testenv"
)

// repoRoot is where the manifests and the deployer are.
const repoRoot = "../.."

// TestLiveTwoDeployerStacksAreEqual deploys the manifests twice with the
// local deployer, under two fresh prefixes on the emulator of
// AWS_ENDPOINT_URL, and checks that Diff finds them equal; then changes one
// thing at a time in the second stack through the AWS API and checks that
// Diff reports exactly that change, and nothing once it is undone.
//
// The second prefix extends the first with a dash ("ld3k9x2q" and
// "ld3k9x2q-b"), so every name of the second stack also starts with the
// first prefix and a dash: the first stack's snapshot must still leave the
// second stack out. Both stacks are deleted at the end, and a snapshot
// then must find nothing left.
func TestLiveTwoDeployerStacksAreEqual(t *testing.T) {
	testenv.RequireEmulator(t)
	ctx := t.Context()
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	set, err := manifest.Load(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	prefixA := randomPrefix()
	prefixB := prefixA + "-b"
	deployer := buildDeployer(t)

	start := time.Now()
	deployStack(t, deployer, prefixA)
	t.Cleanup(func() { deleteStack(t, cfg, prefixA) })
	deployStack(t, deployer, prefixB)
	t.Cleanup(func() { deleteStack(t, cfg, prefixB) }) // runs first: the nested stack goes before the outer one
	t.Logf("deployed %s and %s in %v", prefixA, prefixB, time.Since(start).Round(100*time.Millisecond))

	start = time.Now()
	a := snapshotOf(t, cfg, prefixA)
	t.Logf("snapshot of %s in %v", prefixA, time.Since(start).Round(time.Millisecond))
	b := snapshotOf(t, cfg, prefixB)
	checkComplete(t, a, set)
	checkComplete(t, b, set)
	if d := Diff(a, b); len(d) > 0 {
		t.Fatalf("two deployer stacks differ:\n%s", strings.Join(d, "\n"))
	}

	m := mutator{t: t, cfg: cfg, prefix: prefixB, a: a}
	t.Run("memory", m.memory)
	t.Run("environment", m.environment)
	t.Run("inline policy statement", m.inlinePolicy)
	t.Run("inline policy rewritten with the same meaning", m.samePolicy)
	t.Run("route authorization", m.routeAuthorization)
	t.Run("extra route", m.extraRoute)
	t.Run("table ttl", m.tableTTL)
	t.Run("extra table", m.extraTable)
	t.Run("extra log group", m.extraLogGroup)
	t.Run("stage throttling", m.stageThrottling)
}

// randomPrefix is a fresh prefix within the deployer's rule
// (^[a-z][a-z0-9-]{0,19}$), kept short so a nested one fits too.
func randomPrefix() string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := []byte("ld")
	for range 6 {
		b = append(b, chars[rand.IntN(len(chars))])
	}
	return string(b)
}

// buildDeployer builds localstack/deploy once for both deploys.
func buildDeployer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "deploy")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./localstack/deploy")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the deployer: %v\n%s", err, out)
	}
	return bin
}

// deployStack deploys every manifest under prefix with the local deployer.
func deployStack(t *testing.T, deployer, prefix string) { deployStackOf(t, deployer, repoRoot, prefix) }

// deployStackOf deploys every manifest of the tree at root under prefix.
func deployStackOf(t *testing.T, deployer, root, prefix string) {
	t.Helper()
	root, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), deployer,
		"-root", root, "-prefix", prefix, "-endpoint", os.Getenv("AWS_ENDPOINT_URL"),
		// A fixed build directory (git-ignored) lets later runs skip relinking.
		"-out", filepath.Join("build", "livediff"),
		"-url-file", filepath.Join(t.TempDir(), "api-url"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("deploy %s: %v\n%s", prefix, err, &out)
	}
}

func snapshotOf(t *testing.T, cfg aws.Config, prefix string) *State {
	t.Helper()
	s, err := Snapshot(t.Context(), cfg, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkComplete fails unless s holds what the manifests deploy: one table
// per service, one function and role per function, one API with a route
// per http function, a secret per issuer and the key parameter. An empty
// snapshot would otherwise make an empty diff.
func checkComplete(t *testing.T, s *State, set *manifest.Set) {
	t.Helper()
	var tables, functions, routes, secrets []string
	for _, svc := range set.Services {
		tables = append(tables, naming.Table(PrefixToken, svc.Name))
	}
	for _, fn := range set.Functions() {
		functions = append(functions, naming.Function(PrefixToken, fn.Name))
		if fn.HTTP != nil {
			routes = append(routes, fn.HTTP.RouteKey())
		}
	}
	for _, iss := range set.Issuers() {
		secrets = append(secrets, naming.SigningSecret(PrefixToken, iss.Service))
	}
	roles := slices.Clone(functions)
	var machines []string
	for _, sm := range set.StateMachines() {
		roles = append(roles, naming.StateMachine(PrefixToken, sm.Service, sm.Name))
		machines = append(machines, naming.StateMachine(PrefixToken, sm.Service, sm.Name))
	}
	if slices.ContainsFunc(set.Functions(), func(fn *manifest.Function) bool { return fn.Permissions.PaymentProvider }) {
		secrets = append(secrets, naming.PaymentProviderSecret(PrefixToken))
	}
	check := func(what string, got []string, want []string) {
		t.Helper()
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: snapshot of %s has %s %q, want %q", what, s.Prefix, what, got, want)
		}
	}
	check("tables", keys(s.Tables), tables)
	check("functions", keys(s.Functions), functions)
	check("roles", keys(s.Roles), roles)
	check("state machines", keys(s.StateMachines), machines)
	check("secrets", keys(s.Secrets), secrets)
	check("parameters", keys(s.Parameters), []string{naming.JWKSParameter(PrefixToken)})
	if len(s.APIs) != 1 {
		t.Fatalf("snapshot of %s has %d APIs (%q), want 1", s.Prefix, len(s.APIs), keys(s.APIs))
	}
	for _, api := range s.APIs {
		check("routes", keys(api.Routes), routes)
	}
	for name, fn := range s.Functions {
		if fn.Role != name || len(s.Roles[fn.Role].Inline) == 0 {
			t.Errorf("function %s: role %q with %d inline policies, want its own role with a policy", name, fn.Role, len(s.Roles[fn.Role].Inline))
		}
	}

	// The event resources, named as the model names them.
	model, err := deployment.Build(set, deployment.Params{Prefix: PrefixToken, Region: "us-east-1", Account: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	var buses, rules, queues, mappings []string
	if model.EventBus != nil {
		buses = append(buses, model.EventBus.Name)
	}
	for _, fn := range model.Functions {
		if c := fn.Consumer; c != nil {
			rules = append(rules, c.Rule.Name)
			queues = append(queues, c.Queue.Name, c.DeadLetterQueue.Name)
			mappings = append(mappings, fn.FunctionName+" <- "+c.Queue.Name)
		}
		if r := fn.Relay; r != nil {
			queues = append(queues, r.DeadLetterQueue.Name)
			mappings = append(mappings, fn.FunctionName+" <- table/"+r.Table+"/stream")
		}
	}
	check("event buses", keys(s.EventBuses), buses)
	check("archives", keys(s.Archives), buses) // the archive is named after its bus
	check("rules", keys(s.Rules), rules)
	check("queues", keys(s.Queues), queues)
	check("event source mappings", keys(s.Mappings), mappings)
	for name, r := range s.Rules {
		if len(r.Targets) != 1 {
			t.Errorf("rule %s: targets %v, want its queue", name, r.Targets)
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// mutator changes one thing in the second stack, checks that Diff against
// the first reports exactly that, undoes it and checks that Diff is empty
// again.
type mutator struct {
	t      *testing.T
	cfg    aws.Config
	prefix string
	a      *State // the first stack
}

// expect fails t unless Diff(first stack, second stack now) is want.
func (m mutator) expect(t *testing.T, want ...string) {
	t.Helper()
	got := Diff(m.a, snapshotOf(t, m.cfg, m.prefix))
	if !slices.Equal(got, want) {
		t.Errorf("Diff =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The function every subtest changes: a protected http function with a
// table (users-get), so its policy has a table statement.
const target = "users-get"

func (m mutator) functionName() string { return naming.Function(m.prefix, target) }

func (m mutator) config(t *testing.T) *lambda.GetFunctionConfigurationOutput {
	t.Helper()
	c, err := lambda.NewFromConfig(m.cfg).GetFunctionConfiguration(t.Context(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(m.functionName())})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (m mutator) updateConfig(t *testing.T, in *lambda.UpdateFunctionConfigurationInput) {
	t.Helper()
	lc := lambda.NewFromConfig(m.cfg)
	in.FunctionName = aws.String(m.functionName())
	if _, err := lc.UpdateFunctionConfiguration(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	// As on AWS, the update may still be in progress when the call returns.
	waiter := lambda.NewFunctionUpdatedV2Waiter(lc, func(o *lambda.FunctionUpdatedV2WaiterOptions) { o.MinDelay = 100 * time.Millisecond })
	if err := waiter.Wait(t.Context(), &lambda.GetFunctionInput{FunctionName: in.FunctionName}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

func (m mutator) memory(t *testing.T) {
	was := aws.ToInt32(m.config(t).MemorySize)
	m.updateConfig(t, &lambda.UpdateFunctionConfigurationInput{MemorySize: aws.Int32(was + 64)})
	m.expect(t, fmt.Sprintf("function %s: memory %d vs %d", target, was, was+64))
	m.updateConfig(t, &lambda.UpdateFunctionConfigurationInput{MemorySize: aws.Int32(was)})
	m.expect(t)
}

func (m mutator) environment(t *testing.T) {
	was := m.config(t).Environment.Variables
	changed := map[string]string{"LIVEDIFF_EXTRA": "1"}
	for k, v := range was {
		changed[k] = v
	}
	changed["SHOP_AUTH"] = "none"
	m.updateConfig(t, &lambda.UpdateFunctionConfigurationInput{Environment: &ltypes.Environment{Variables: changed}})
	m.expect(t,
		"function "+target+": environment LIVEDIFF_EXTRA: only in b",
		"function "+target+": environment SHOP_AUTH "+was["SHOP_AUTH"]+" vs none",
	)
	m.updateConfig(t, &lambda.UpdateFunctionConfigurationInput{Environment: &ltypes.Environment{Variables: was}})
	m.expect(t)
}

// inlinePolicyDoc returns the name and decoded document of the function
// role's one inline policy.
func (m mutator) inlinePolicyDoc(t *testing.T) (string, map[string]any) {
	t.Helper()
	c := iam.NewFromConfig(m.cfg)
	role := m.functionName()
	names, err := c.ListRolePolicies(t.Context(), &iam.ListRolePoliciesInput{RoleName: &role})
	if err != nil {
		t.Fatal(err)
	}
	if len(names.PolicyNames) != 1 {
		t.Fatalf("role %s has inline policies %q, want one", role, names.PolicyNames)
	}
	name := names.PolicyNames[0]
	got, err := c.GetRolePolicy(t.Context(), &iam.GetRolePolicyInput{RoleName: &role, PolicyName: &name})
	if err != nil {
		t.Fatal(err)
	}
	p, err := parsePolicy(aws.ToString(got.PolicyDocument)) // checks it reads
	if err != nil || len(p.Statements) == 0 {
		t.Fatalf("inline policy %s: %v (%d statements)", name, err, len(p.Statements))
	}
	var doc map[string]any
	text, err := policyText(aws.ToString(got.PolicyDocument))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	return name, doc
}

func (m mutator) putInlinePolicy(t *testing.T, name string, doc any) {
	t.Helper()
	b, err := json.MarshalIndent(doc, "", "   ")
	if err != nil {
		t.Fatal(err)
	}
	_, err = iam.NewFromConfig(m.cfg).PutRolePolicy(t.Context(), &iam.PutRolePolicyInput{
		RoleName: aws.String(m.functionName()), PolicyName: &name, PolicyDocument: aws.String(string(b)),
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (m mutator) inlinePolicy(t *testing.T) {
	name, was := m.inlinePolicyDoc(t)
	changed, _ := deepCopy(t, was).(map[string]any)
	stmts, _ := changed["Statement"].([]any)
	first, _ := stmts[0].(map[string]any)
	sid, _ := first["Sid"].(string)
	if sid == "" {
		t.Fatalf("first statement of %s has no Sid: %v", name, first)
	}
	first["Action"] = append(anyList(first["Action"]), "iam:PassRole")
	m.putInlinePolicy(t, name, changed)

	got := Diff(m.a, snapshotOf(t, m.cfg, m.prefix))
	head := fmt.Sprintf("role %s: inline policy %s: statement sid %s ", target, replacePrefix(name, m.prefix), sid)
	if len(got) != 1 || !strings.HasPrefix(got[0], head) || !strings.Contains(afterVs(got[0]), "iam:PassRole") {
		t.Errorf("Diff = %q, want one line %q... with iam:PassRole in b", got, head)
	}
	m.putInlinePolicy(t, name, was)
	m.expect(t)
}

// samePolicy rewrites the inline policy as another document with the same
// meaning: statements in reverse order, one-element lists as strings,
// indented. Diff must see no change.
func (m mutator) samePolicy(t *testing.T) {
	name, was := m.inlinePolicyDoc(t)
	changed, _ := deepCopy(t, was).(map[string]any)
	stmts, _ := changed["Statement"].([]any)
	slices.Reverse(stmts)
	for _, s := range stmts {
		st, _ := s.(map[string]any)
		for _, k := range []string{"Action", "Resource"} {
			if l := anyList(st[k]); len(l) == 1 {
				st[k] = l[0]
			}
		}
	}
	m.putInlinePolicy(t, name, changed)
	m.expect(t)
	m.putInlinePolicy(t, name, was)
	m.expect(t)
}

// afterVs is the b side of a diff line "... <a> vs <b>".
func afterVs(line string) string {
	_, b, _ := strings.Cut(line, " vs ")
	return b
}

func anyList(v any) []any {
	switch v := v.(type) {
	case []any:
		return v
	case nil:
		return nil
	}
	return []any{v}
}

func deepCopy(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// api returns the second stack's API id and its routes by key.
func (m mutator) api(t *testing.T) (string, map[string]gtypes.Route, []gtypes.Authorizer) {
	t.Helper()
	c := apigatewayv2.NewFromConfig(m.cfg)
	apis, err := c.GetApis(t.Context(), &apigatewayv2.GetApisInput{})
	if err != nil {
		t.Fatal(err)
	}
	var id string
	for _, a := range apis.Items {
		if ownedBy(m.prefix, aws.ToString(a.Name)) { // no stack extends the second prefix
			id = aws.ToString(a.ApiId)
		}
	}
	if id == "" {
		t.Fatalf("no API of %s", m.prefix)
	}
	routes, err := c.GetRoutes(t.Context(), &apigatewayv2.GetRoutesInput{ApiId: &id})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]gtypes.Route{}
	for _, r := range routes.Items {
		byKey[aws.ToString(r.RouteKey)] = r
	}
	auths, err := c.GetAuthorizers(t.Context(), &apigatewayv2.GetAuthorizersInput{ApiId: &id})
	if err != nil {
		t.Fatal(err)
	}
	return id, byKey, auths.Items
}

// openRoute is a route of the manifests with auth none.
const openRoute = "POST /v1/users"

func (m mutator) apiName() string {
	for name := range m.a.APIs {
		return displayName(name)
	}
	return ""
}

func (m mutator) routeAuthorization(t *testing.T) {
	id, routes, auths := m.api(t)
	r, ok := routes[openRoute]
	if !ok || r.AuthorizationType != gtypes.AuthorizationTypeNone || len(auths) != 1 {
		t.Fatalf("route %s: %+v (present %v), %d authorizers: want an open route and one authorizer", openRoute, r, ok, len(auths))
	}
	c := apigatewayv2.NewFromConfig(m.cfg)
	_, err := c.UpdateRoute(t.Context(), &apigatewayv2.UpdateRouteInput{
		ApiId: &id, RouteId: r.RouteId,
		AuthorizationType: gtypes.AuthorizationTypeCustom, AuthorizerId: auths[0].AuthorizerId,
	})
	if err != nil {
		t.Fatal(err)
	}
	authorizer := replacePrefix(aws.ToString(auths[0].Name), m.prefix)
	m.expect(t,
		fmt.Sprintf("api %s: route %s: authorization type NONE vs CUSTOM", m.apiName(), openRoute),
		fmt.Sprintf(`api %s: route %s: authorizer "" vs %s`, m.apiName(), openRoute, authorizer),
	)
	// An empty authorizer id detaches it, as the deployer and Terraform do.
	_, err = c.UpdateRoute(t.Context(), &apigatewayv2.UpdateRouteInput{
		ApiId: &id, RouteId: r.RouteId,
		AuthorizationType: gtypes.AuthorizationTypeNone, AuthorizerId: aws.String(""),
	})
	if err != nil {
		t.Fatal(err)
	}
	m.expect(t)
}

func (m mutator) extraRoute(t *testing.T) {
	id, routes, _ := m.api(t)
	const key = "GET /v1/livediff"
	gw := apigatewayv2.NewFromConfig(m.cfg)
	out, err := gw.CreateRoute(t.Context(), &apigatewayv2.CreateRouteInput{
		ApiId: &id, RouteKey: aws.String(key), Target: routes[openRoute].Target,
	})
	if err != nil {
		t.Fatal(err)
	}
	// MiniStack under load now and then applies a create and loses its
	// response; the SDK's retry then makes a second route with the key
	// (MiniStack accepts one): the test's own twin, not a finding.
	all, err := gw.GetRoutes(t.Context(), &apigatewayv2.GetRoutesInput{ApiId: &id})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all.Items {
		if aws.ToString(r.RouteKey) == key && aws.ToString(r.RouteId) != aws.ToString(out.RouteId) {
			if _, err := gw.DeleteRoute(t.Context(), &apigatewayv2.DeleteRouteInput{ApiId: &id, RouteId: r.RouteId}); err != nil {
				t.Fatal(err)
			}
		}
	}
	m.expect(t, fmt.Sprintf("api %s: route %s: only in b", m.apiName(), key))
	// Either way round.
	if got, want := Diff(snapshotOf(t, m.cfg, m.prefix), m.a), fmt.Sprintf("api %s: route %s: only in a", m.apiName(), key); !slices.Equal(got, []string{want}) {
		t.Errorf("Diff(b, a) = %q, want %q", got, want)
	}
	if _, err := gw.DeleteRoute(t.Context(), &apigatewayv2.DeleteRouteInput{ApiId: &id, RouteId: out.RouteId}); err != nil {
		t.Fatal(err)
	}
	m.expect(t)
}

func (m mutator) tableTTL(t *testing.T) {
	table := naming.Table(m.prefix, "users")
	ddb := dynamodb.NewFromConfig(m.cfg)
	ttl, err := ddb.DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: &table})
	if err != nil {
		t.Fatal(err)
	}
	attr := aws.ToString(ttl.TimeToLiveDescription.AttributeName)
	if ttl.TimeToLiveDescription.TimeToLiveStatus != dtypes.TimeToLiveStatusEnabled || attr == "" {
		t.Fatalf("table %s: TTL %+v, want enabled (service.yaml declares it)", table, ttl.TimeToLiveDescription)
	}
	setTTL := func(on bool) {
		t.Helper()
		_, err := ddb.UpdateTimeToLive(t.Context(), &dynamodb.UpdateTimeToLiveInput{
			TableName:               &table,
			TimeToLiveSpecification: &dtypes.TimeToLiveSpecification{AttributeName: &attr, Enabled: aws.Bool(on)},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	setTTL(false)
	m.expect(t, fmt.Sprintf("table users: ttl %s vs off", attr))
	setTTL(true)
	m.expect(t)
}

func (m mutator) extraTable(t *testing.T) {
	table := naming.Table(m.prefix, "livediff")
	ddb := dynamodb.NewFromConfig(m.cfg)
	_, err := ddb.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName:            &table,
		BillingMode:          dtypes.BillingModePayPerRequest,
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: dtypes.ScalarAttributeTypeS}},
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: dtypes.KeyTypeHash}},
	})
	if err != nil {
		t.Fatal(err)
	}
	m.expect(t, "table livediff: only in b")
	if _, err := ddb.DeleteTable(t.Context(), &dynamodb.DeleteTableInput{TableName: &table}); err != nil {
		t.Fatal(err)
	}
	m.expect(t)
}

// extraLogGroup creates a log group of the stack's name that no function
// of the manifests writes to (the one Lambda would make for a function
// nobody deployed).
func (m mutator) extraLogGroup(t *testing.T) {
	group := naming.LogGroup(m.prefix, "livediff")
	logs := cloudwatchlogs.NewFromConfig(m.cfg)
	if _, err := logs.CreateLogGroup(t.Context(), &cloudwatchlogs.CreateLogGroupInput{LogGroupName: &group}); err != nil {
		t.Fatal(err)
	}
	m.expect(t, "log group "+naming.LogGroup(PrefixToken, "livediff")+": only in b")
	if _, err := logs.DeleteLogGroup(t.Context(), &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: &group}); err != nil {
		t.Fatal(err)
	}
	m.expect(t)
}

func (m mutator) stageThrottling(t *testing.T) {
	id, _, _ := m.api(t)
	gw := apigatewayv2.NewFromConfig(m.cfg)
	stage, err := gw.GetStage(t.Context(), &apigatewayv2.GetStageInput{ApiId: &id, StageName: aws.String("$default")})
	if err != nil {
		t.Fatal(err)
	}
	deployed := stage.DefaultRouteSettings
	if deployed == nil || deployed.ThrottlingBurstLimit == nil || deployed.ThrottlingRateLimit == nil {
		t.Fatalf("stage $default has default route settings %+v; the deployer throttles every route", deployed)
	}
	changed := &gtypes.RouteSettings{ThrottlingBurstLimit: aws.Int32(*deployed.ThrottlingBurstLimit + 7), ThrottlingRateLimit: aws.Float64(*deployed.ThrottlingRateLimit + 3)}
	update := func(rs *gtypes.RouteSettings) {
		t.Helper()
		_, err := gw.UpdateStage(t.Context(), &apigatewayv2.UpdateStageInput{ApiId: &id, StageName: aws.String("$default"), DefaultRouteSettings: rs})
		if err != nil {
			t.Fatal(err)
		}
	}
	update(changed)
	m.expect(t, fmt.Sprintf(`api %s: stage $default: default route settings %s vs %s`, m.apiName(), routeSettings(deployed), routeSettings(changed)))
	update(deployed)
	m.expect(t)
}

// deleteStack deletes everything a snapshot of prefix finds, then checks
// that a second snapshot finds nothing: the shared emulator of make test
// keeps no trace of the test.
func deleteStack(t *testing.T, cfg aws.Config, prefix string) {
	t.Helper()
	// t.Context is done during cleanup.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Snapshot(ctx, cfg, prefix)
	if err != nil {
		t.Errorf("clean up %s: %v", prefix, err)
		return
	}
	raw := func(name string) *string { return aws.String(strings.ReplaceAll(name, PrefixToken, prefix)) }
	var errs []error
	// Not found is deleted: MiniStack under load sometimes applies a
	// delete and loses the response, and the SDK's retry then finds nothing.
	note := func(what string, err error) {
		if err != nil && !awserr.HasCode(err, "NoSuchEntity", "ResourceNotFoundException", "NotFoundException", "ParameterNotFound") {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	// Rules and mappings first: nothing sends to a queue or reads it once
	// it goes. Lambda keeps a deleted function's mappings, so they go
	// before the functions.
	eb := eventbridge.NewFromConfig(cfg)
	for name, r := range s.Rules {
		bus := raw(r.Bus)
		if ids := keys(r.Targets); len(ids) > 0 {
			_, err := eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: raw(name), EventBusName: bus, Ids: ids})
			note("rule "+name+" targets", err)
		}
		_, err := eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: raw(name), EventBusName: bus})
		note("rule "+name, err)
	}
	lc := lambda.NewFromConfig(cfg)
	for name := range s.Functions {
		mappings, err := lc.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{FunctionName: raw(name)})
		note("function "+name+" mappings", err)
		if err == nil {
			for _, m := range mappings.EventSourceMappings {
				_, err := lc.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: m.UUID})
				note("function "+name+" mapping", err)
			}
		}
	}
	for name := range s.Archives {
		_, err := eb.DeleteArchive(ctx, &eventbridge.DeleteArchiveInput{ArchiveName: raw(name)})
		note("archive "+name, err)
	}
	for name := range s.EventBuses {
		_, err := eb.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: raw(name)})
		note("event bus "+name, err)
	}
	qc := sqs.NewFromConfig(cfg)
	for name := range s.Queues {
		url, err := qc.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: raw(name)})
		if awserr.HasCode(err, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue") {
			continue
		}
		note("queue "+name, err)
		if err == nil {
			_, err := qc.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: url.QueueUrl})
			if !awserr.HasCode(err, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue") {
				note("queue "+name, err)
			}
		}
	}
	for name := range s.Functions {
		_, err := lc.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: raw(name)})
		note("function "+name, err)
	}
	ic := iam.NewFromConfig(cfg)
	for name, r := range s.Roles {
		for policy := range r.Inline {
			_, err := ic.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: raw(name), PolicyName: raw(policy)})
			note("role "+name+" policy "+policy, err)
		}
		attached, err := ic.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: raw(name)})
		note("role "+name+" attached policies", err)
		if err == nil {
			for _, p := range attached.AttachedPolicies {
				_, err := ic.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: raw(name), PolicyArn: p.PolicyArn})
				note("role "+name+" detach", err)
			}
		}
		_, err = ic.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: raw(name)})
		note("role "+name, err)
	}
	ddb := dynamodb.NewFromConfig(cfg)
	for name := range s.Tables {
		_, err := ddb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: raw(name)})
		note("table "+name, err)
	}
	gw := apigatewayv2.NewFromConfig(cfg)
	apis, err := gw.GetApis(ctx, &apigatewayv2.GetApisInput{})
	note("list apis", err)
	if err == nil {
		for _, a := range apis.Items {
			if _, mine := s.APIs[replacePrefix(aws.ToString(a.Name), prefix)]; mine {
				_, err := gw.DeleteApi(ctx, &apigatewayv2.DeleteApiInput{ApiId: a.ApiId})
				note("api "+aws.ToString(a.Name), err)
			}
		}
	}
	sfc := sfn.NewFromConfig(cfg)
	machines, err := sfc.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	note("list state machines", err)
	if err == nil {
		for _, m := range machines.StateMachines {
			if _, mine := s.StateMachines[replacePrefix(aws.ToString(m.Name), prefix)]; mine {
				_, err := sfc.DeleteStateMachine(ctx, &sfn.DeleteStateMachineInput{StateMachineArn: m.StateMachineArn})
				note("state machine "+aws.ToString(m.Name), err)
			}
		}
	}
	sm := secretsmanager.NewFromConfig(cfg)
	for name := range s.Secrets {
		_, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: raw(name), ForceDeleteWithoutRecovery: aws.Bool(true)})
		note("secret "+name, err)
	}
	sc := ssm.NewFromConfig(cfg)
	for name := range s.Parameters {
		_, err := sc.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: raw(name)})
		note("parameter "+name, err)
	}
	logs := cloudwatchlogs.NewFromConfig(cfg)
	for name := range s.LogGroups {
		_, err := logs.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: raw(name)})
		note("log group "+name, err)
	}
	deleteObservability(ctx, cfg, prefix, s, note)
	for _, err := range errs {
		t.Errorf("clean up %s: %v", prefix, err)
	}

	left, err := Snapshot(ctx, cfg, prefix)
	if err != nil {
		t.Errorf("clean up %s: %v", prefix, err)
		return
	}
	empty := &State{}
	if d := Diff(empty, left); len(d) > 0 {
		t.Errorf("clean up %s: still there:\n%s", prefix, strings.Join(d, "\n"))
	}
}

// deleteObservability deletes the stack's SNS topics, its dashboard and
// its alarms. The snapshot does not read alarms (readObservability says
// why), so they are found by name and by the deployer's prefix tag, which
// tells this stack's from a nested one's (<prefix>-b-...).
func deleteObservability(ctx context.Context, cfg aws.Config, prefix string, s *State, note func(string, error)) {
	sc := sns.NewFromConfig(cfg)
	topics, err := sc.ListTopics(ctx, &sns.ListTopicsInput{})
	note("list topics", err)
	if err == nil {
		for _, tp := range topics.Topics {
			arn := aws.ToString(tp.TopicArn)
			if _, mine := s.Topics[replacePrefix(arn[strings.LastIndex(arn, ":")+1:], prefix)]; mine {
				_, err := sc.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: tp.TopicArn})
				note("topic "+arn, err)
			}
		}
	}
	cw := cloudwatch.NewFromConfig(cfg)
	if len(s.Dashboards) > 0 {
		_, err := cw.DeleteDashboards(ctx, &cloudwatch.DeleteDashboardsInput{DashboardNames: []string{prefix}})
		note("dashboard "+prefix, err)
	}
	var found []cwtypes.MetricAlarm
	pages := cloudwatch.NewDescribeAlarmsPaginator(cw, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String(prefix + "-")})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			note("list alarms", err)
			return
		}
		found = append(found, page.MetricAlarms...)
	}
	var mine []string
	for _, a := range found {
		tags, err := cw.ListTagsForResource(ctx, &cloudwatch.ListTagsForResourceInput{ResourceARN: a.AlarmArn})
		note("alarm tags "+aws.ToString(a.AlarmName), err)
		if err == nil && slices.ContainsFunc(tags.Tags, func(t cwtypes.Tag) bool {
			return aws.ToString(t.Key) == "prefix" && aws.ToString(t.Value) == prefix // localstack/deploy prefixTag
		}) {
			mine = append(mine, aws.ToString(a.AlarmName))
		}
	}
	for batch := range slices.Chunk(mine, 100) {
		_, err := cw.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: batch})
		note("alarms", err)
	}
}
