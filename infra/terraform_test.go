// Package infra is the Terraform deployment of shop (see README.md). Real
// Terraform checks it: apply_test.go applies it to the local emulator, runs
// the end-to-end suite against it, wants an empty plan and destroys it, and
// `make lint` runs terraform fmt, validate and tflint. The tests in this
// file guard what a successful apply cannot show: that Terraform reads the
// deployment model and nothing else (no manifest, no topology literal, no
// policy of its own), that no key material passes through it, that the
// local stack's test switches never reach it, and that the longest prefix
// it admits still fits AWS's name limits.
package infra

import (
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/shop-serverless/shop/shared/awscalls"
	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/faults"
	"github.com/shop-serverless/shop/shared/manifest"
)

const (
	infraDir = "."  // go test runs in the package directory
	repoRoot = ".." // where functions/ lives
)

// Terraform gets the topology from deployment.json only: it never reads a
// manifest (the model is built from them once, in Go) and never lists files.
func TestTerraformReadsOnlyTheModel(t *testing.T) {
	for _, p := range readProblems(tfSources(t)) {
		t.Error(p)
	}
}

func TestReadCheckCatchesAManifestRead(t *testing.T) {
	problems := readProblems(map[string][]byte{
		"a.tf": []byte(`locals { fns = fileset("${path.module}/../functions", "*/*/function.yaml") }`),
		"b.tf": []byte(`locals { svc = yamldecode(file("x")) }`),
	})
	assertMentions(t, problems, "a.tf", "fileset", "b.tf", "yamldecode")
}

// readProblems: file() may read deployment.json only, and nothing may
// decode YAML or list files.
func readProblems(files map[string][]byte) []string {
	var problems []string
	fileCall := regexp.MustCompile(`\bfile\(([^)]*)\)`)
	for _, name := range sortedKeys(files) {
		src := files[name]
		for _, fn := range []string{"yamldecode(", "fileset(", "templatefile("} {
			if i := bytes.Index(src, []byte(fn)); i >= 0 {
				problems = append(problems, fmt.Sprintf("%s:%d: %s: Terraform reads the model (deployment.json), not the manifests", name, lineOf(src, i), strings.TrimSuffix(fn, "(")))
			}
		}
		for _, m := range fileCall.FindAllSubmatchIndex(src, -1) {
			if arg := string(src[m[2]:m[3]]); !strings.HasSuffix(arg, `/deployment.json"`) {
				problems = append(problems, fmt.Sprintf("%s:%d: file(%s): the only file Terraform reads is deployment.json", name, lineOf(src, m[0]), arg))
			}
		}
	}
	return problems
}

// Every IAM policy Terraform attaches is the model's, encoded as it is: no
// policy document written in HCL, no managed or extra policy, so a role
// holds what shared/deployment grants and nothing else. The end-to-end
// least-privilege check proves the model's grants are enough; this keeps
// Terraform from adding to them.
func TestPoliciesComeOnlyFromTheModel(t *testing.T) {
	for _, p := range policyProblems(tfSources(t)) {
		t.Error(p)
	}
}

func TestPolicyCheckCatchesAGrantOfTerraformsOwn(t *testing.T) {
	problems := policyProblems(map[string][]byte{
		"a.tf": []byte(`data "aws_iam_policy_document" "extra" {}`),
		"b.tf": []byte("resource \"aws_iam_role_policy_attachment\" \"x\" {\n  policy_arn = \"arn:aws:iam::aws:policy/AdministratorAccess\"\n}\n"),
		"c.tf": []byte("resource \"aws_iam_role_policy\" \"x\" {\n  policy = jsonencode({ Statement = [] })\n}\n"),
		// A queue that lets anyone send, beside the model's policy.
		"d.tf": []byte("resource \"aws_sqs_queue\" \"q\" {\n  name   = var.queue.name\n  policy = jsonencode({ Statement = [{ Effect = \"Allow\", Principal = \"*\" }] })\n}\n"),
	})
	assertMentions(t, problems, "a.tf", "aws_iam_policy_document", "b.tf", "aws_iam_role_policy_attachment", "c.tf", "jsonencode({", "d.tf")
}

// modelPolicies are the only right-hand sides an IAM policy argument may
// have: a function's or a state machine's trust and permissions policies,
// and a queue's resource policy where the model gives it one (EventBridge
// may send for the queue's own rule), from the model.
var modelPolicies = []string{
	"jsonencode(var.function.role.trust)", "jsonencode(var.function.role.policy)",
	"jsonencode(var.state_machine.role.trust)", "jsonencode(var.state_machine.role.policy)",
	"var.queue.policy == null ? null : jsonencode(var.queue.policy)",
}

func policyProblems(files map[string][]byte) []string {
	var problems []string
	forbidden := []string{
		"aws_iam_policy_document", `"aws_iam_policy"`, "aws_iam_role_policy_attachment", "aws_iam_policy_attachment",
		"aws_iam_role_policies_exclusive", "managed_policy_arns", "inline_policy",
	}
	policyArg := regexp.MustCompile(`(?m)^\s*(assume_role_policy|policy)\s*=\s*(.*)$`)
	for _, name := range sortedKeys(files) {
		src := files[name]
		for _, f := range forbidden {
			if i := bytes.Index(src, []byte(f)); i >= 0 {
				problems = append(problems, fmt.Sprintf("%s:%d: %s: every grant comes from the model (jsonencode of a role's policy)", name, lineOf(src, i), f))
			}
		}
		for _, m := range policyArg.FindAllSubmatchIndex(src, -1) {
			if !strings.HasPrefix(topLevelBlock(src, m[0]), "resource ") {
				continue // a variable's type, an output: no grant
			}
			if rhs := strings.TrimSpace(string(src[m[4]:m[5]])); !slices.Contains(modelPolicies, rhs) {
				problems = append(problems, fmt.Sprintf("%s:%d: %s = %s: want one of %v", name, lineOf(src, m[0]), src[m[2]:m[3]], rhs, modelPolicies))
			}
		}
	}
	return problems
}

// Terraform creates the key containers and never a key: a secret value or
// version would put private keys into the state and roll them back on the
// next apply, and reading one would copy it into the state as well. (That
// the JWKS parameter's value is left to keytool is shown for real by
// apply_test.go: keytool publishes keys after the apply, and the plan must
// still be empty.)
func TestNoKeyMaterialInTerraform(t *testing.T) {
	for _, p := range keyMaterialProblems(tfSources(t)) {
		t.Error(p)
	}
}

func TestKeyMaterialCheckCatchesSecretValues(t *testing.T) {
	for name, snippet := range map[string]string{
		"secret version":                      "resource \"aws_secretsmanager_secret_version\" \"v\" {\n  secret_id     = \"x\"\n  secret_string = \"{}\"\n}\n",
		"rotation by Terraform":               "resource \"aws_secretsmanager_secret_rotation\" \"r\" {\n  secret_id = \"x\"\n}\n",
		"secret read":                         "data \"aws_secretsmanager_secret_version\" \"k\" {\n  secret_id = \"x\"\n}\n",
		"unquoted labels":                     "resource aws_secretsmanager_secret_version v {\n}\n",
		"the simulator's name, unconditional": "resource \"aws_secretsmanager_secret_version\" \"payment_provider\" {\n  secret_id = \"x\"\n}\n",
	} {
		t.Run(name, func(t *testing.T) {
			if problems := keyMaterialProblems(map[string][]byte{"snippet.tf": []byte(snippet)}); len(problems) == 0 {
				t.Error("not reported")
			}
		})
	}
}

var secretContent = regexp.MustCompile(`(?m)^\s*(resource|data)\s+"?(aws_secretsmanager_secret_\w+)"?\s+"?(\w+)`)

// simulatorSecret is the one secret value Terraform may write: the payment
// provider simulator's random key, and only where the simulator is
// deployed (its count is conditioned on use_payment_simulator). It guards a
// test double; a real provider's secret is the operator's (main.tf).
const simulatorSecret = "count = var.use_payment_simulator"

func keyMaterialProblems(files map[string][]byte) []string {
	var problems []string
	for _, name := range sortedKeys(files) {
		for _, m := range secretContent.FindAllSubmatchIndex(files[name], -1) {
			src := files[name]
			block := src[m[0]:]
			if end := bytes.Index(block, []byte("\n}\n")); end >= 0 {
				block = block[:end]
			}
			if string(src[m[2]:m[3]]) == "resource" && string(src[m[4]:m[5]]) == "aws_secretsmanager_secret_version" &&
				string(src[m[6]:m[7]]) == "payment_provider" && bytes.Contains(block, []byte(simulatorSecret)) {
				continue
			}
			problems = append(problems, fmt.Sprintf("%s:%d: %s %s: Terraform must not write, rotate or read secret values; infra/keytool owns them",
				name, lineOf(files[name], m[0]), files[name][m[2]:m[3]], files[name][m[4]:m[5]]))
		}
	}
	return problems
}

// No fact of the model may be written into Terraform: names, routes,
// paths, indexes, environment variables, IAM actions and statement ids,
// settings. Each must reach it through deployment.json, or the two can
// drift apart without a test noticing until a deploy.
func TestNoTopologyLiteralsInTerraform(t *testing.T) {
	for _, p := range literalProblems(tfSources(t), modelLiterals(t)) {
		t.Error(p)
	}
}

func TestLiteralCheckCatchesHardCodedTopology(t *testing.T) {
	literals := modelLiterals(t)
	d := buildModel(t, "shop")
	fn := d.Routes()[0]
	snippet := fmt.Sprintf("resource \"aws_apigatewayv2_route\" \"r\" {\n  route_key = %q\n}\n", fn.Route.RouteKey)
	assertMentions(t, literalProblems(map[string][]byte{"snippet.tf": []byte(snippet)}, literals), "snippet.tf", fn.Route.RouteKey)
	snippet = "resource \"aws_lambda_permission\" \"p\" {\n  statement_id = \"" + deployment.RoutePermissionID + "\"\n}\n"
	assertMentions(t, literalProblems(map[string][]byte{"snippet.tf": []byte(snippet)}, literals), deployment.RoutePermissionID)
	// An event type spelled in a rule's pattern instead of coming from the
	// model's.
	typ := loadManifests(t).EventTypes[0]
	snippet = fmt.Sprintf("resource \"aws_cloudwatch_event_rule\" \"r\" {\n  event_pattern = jsonencode({ detail-type = [%q] })\n}\n", typ)
	assertMentions(t, literalProblems(map[string][]byte{"snippet.tf": []byte(snippet)}, literals), typ)
	snippet = "resource \"aws_lambda_event_source_mapping\" \"m\" {\n  function_response_types = [\"" + deployment.ReportBatchItemFailures + "\"]\n}\n"
	assertMentions(t, literalProblems(map[string][]byte{"snippet.tf": []byte(snippet)}, literals), deployment.ReportBatchItemFailures)
}

// modelLiterals are the model's facts that must never be spelled in a .tf
// file, taken from the model itself.
func modelLiterals(t *testing.T) []string {
	t.Helper()
	d := buildModel(t, "shop")
	out := []string{
		deployment.Runtime, deployment.AuthorizerIdentity, deployment.BreakerKeyPattern,
		deployment.RoutePermissionID, deployment.AuthorizerPermissionID, deployment.ReportBatchItemFailures,
		d.API.Name, d.API.Description, d.API.AccessLogGroup, d.API.AccessLogFormat, d.JWKSParameter,
	}
	if a := d.API.Authorizer; a != nil {
		out = append(out, a.Name)
	}
	// The CORS headers the model allows and exposes; the methods are
	// ordinary words here, and so are two headers.
	if c := d.API.CORS; c != nil {
		for _, h := range slices.Concat(c.AllowHeaders, c.ExposeHeaders) {
			if h != "Authorization" && h != "Content-Type" {
				out = append(out, h)
			}
		}
	}
	for _, tb := range d.Tables {
		out = append(out, tb.Name)
		for _, ix := range tb.Indexes {
			out = append(out, ix.Name)
		}
	}
	for _, iss := range d.Issuers {
		out = append(out, iss.SigningSecret, iss.SecretDescription)
	}
	for _, fn := range d.Functions {
		out = append(out, fn.Name, fn.FunctionName, fn.LogGroup, fn.Role.PolicyName)
		out = append(out, slices.Collect(maps.Keys(fn.Environment))...)
		for _, st := range fn.Role.Policy.Statement {
			out = append(out, st.Action...)
			if st.Sid != "" {
				out = append(out, st.Sid)
			}
		}
		if fn.Route != nil {
			out = append(out, fn.Route.RouteKey, fn.Route.Path, fn.Route.InvokeSource)
		}
		// The rule's target id ("queue") is left out: it is also an
		// ordinary word of the resources and comments.
		if c := fn.Consumer; c != nil {
			out = append(out, c.Rule.Name, c.Rule.Description, c.Rule.EventPattern)
			for _, q := range []deployment.Queue{c.Queue, c.DeadLetterQueue} {
				out = append(out, queueLiterals(q)...)
			}
		}
		if r := fn.Relay; r != nil {
			out = append(out, r.FilterPattern, r.StartingPosition)
			out = append(out, queueLiterals(r.DeadLetterQueue)...)
		}
	}
	if b := d.EventBus; b != nil {
		out = append(out, b.Name, b.Description, b.Archive.Description)
	}
	// Observability: the topic, every alarm with its metric, the sampling
	// rules, and the API id's placeholder (the dashboard's name is the
	// prefix, and the topic's suffix "alarms", ordinary words here).
	if o := d.Observability; o != nil {
		out = append(out, o.Topic.Name, o.APIIDPlaceholder)
		for _, a := range o.Alarms {
			out = append(out, a.Name, a.Description)
			if a.MetricName != "" {
				out = append(out, a.MetricName)
			}
			if strings.HasPrefix(a.Namespace, "AWS/") { // not shop's own: the stack's name, an ordinary word here
				out = append(out, a.Namespace)
			}
			for _, q := range a.Queries {
				if q.Expression != "" {
					out = append(out, q.Expression)
				}
			}
		}
		for _, r := range o.SamplingRules {
			out = append(out, r.Name)
			if r.URLPath != "*" {
				out = append(out, r.URLPath)
			}
		}
	}
	// The event types and their producers' sources, which the rules'
	// patterns hold.
	set := loadManifests(t)
	for _, typ := range set.EventTypes {
		out = append(out, typ)
		if p, ok := set.Producer(typ); ok {
			out = append(out, p.Source)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// queueLiterals are the facts of a queue: its name, and its policy's
// statement ids, actions and service principals.
func queueLiterals(q deployment.Queue) []string {
	out := []string{q.Name}
	if q.Policy != nil {
		for _, st := range q.Policy.Statement {
			out = append(out, st.Action...)
			out = append(out, slices.Collect(maps.Values(st.Principal))...)
			if st.Sid != "" {
				out = append(out, st.Sid)
			}
		}
	}
	return out
}

func literalProblems(files map[string][]byte, literals []string) []string {
	var problems []string
	for _, name := range sortedKeys(files) {
		for _, lit := range literals {
			if i := bytes.Index(files[name], []byte(lit)); i >= 0 {
				problems = append(problems, fmt.Sprintf("%s:%d: %q is a fact of the deployment model and must come from deployment.json", name, lineOf(files[name], i), lit))
			}
		}
	}
	return problems
}

// The local stack's test switches (fault injection, recording of AWS calls)
// must never reach AWS: not even their names belong anywhere under infra/
// (this file takes them from the Go constants, so it does not spell them;
// apply_test.go passes them to the test stack through function_environment,
// from the same constants).
func TestNoLocalTestSwitchInInfra(t *testing.T) {
	needles := []string{faults.EnvSwitch, awscalls.EnvSwitch}
	err := filepath.WalkDir(infraDir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && e.Name() == ".terraform" {
			return filepath.SkipDir
		}
		if !e.Type().IsRegular() {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, needle := range needles {
			if bytes.Contains(src, []byte(needle)) {
				t.Errorf("%s mentions %s", path, needle)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// maxPrefix is the longest name_prefix variables.tf admits (its validation:
// a letter, up to 18 more, and a last one that is no '-').
const maxPrefix = 20

// Lambda function and IAM role names stop at 64 characters: with the
// longest prefix Terraform accepts, every name the model makes must fit,
// or an apply under a long prefix fails halfway. The apply test uses a
// short prefix and cannot see it.
func TestLongestPrefixFitsAWSNameLimits(t *testing.T) {
	d := buildModel(t, strings.Repeat("p", maxPrefix))
	type limited struct {
		name  string
		limit int
	}
	fits := func(what string, n limited) {
		t.Helper()
		if len(n.name) > n.limit {
			t.Errorf("%s name %q has %d characters; AWS allows %d", what, n.name, len(n.name), n.limit)
		}
	}
	for _, fn := range d.Functions {
		fits("function", limited{fn.FunctionName, 64})
		fits("role", limited{fn.Role.Name, 64})
		if c := fn.Consumer; c != nil {
			fits("rule", limited{c.Rule.Name, 64})
			fits("queue", limited{c.Queue.Name, 80})
			fits("dead-letter queue", limited{c.DeadLetterQueue.Name, 80})
		}
		if r := fn.Relay; r != nil {
			fits("dead-letter queue", limited{r.DeadLetterQueue.Name, 80})
		}
	}
	// The region is in the bucket's name: the longest one there is.
	longest, err := deployment.Build(loadManifests(t), deployment.Params{Prefix: strings.Repeat("p", maxPrefix), Region: "ap-southeast-5", Account: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	fits("artifacts bucket", limited{longest.Artifacts.Bucket, 63})
	if b := d.EventBus; b != nil {
		fits("event bus", limited{b.Name, 256})
		fits("archive", limited{b.Archive.Name, 48})
	}
	if o := d.Observability; o != nil {
		fits("SNS topic", limited{o.Topic.Name, 256})
		fits("dashboard", limited{o.Dashboard.Name, 255})
		for _, a := range o.Alarms {
			fits("alarm", limited{a.Name, 255})
		}
		for _, r := range o.SamplingRules {
			fits("sampling rule", limited{r.Name, deployment.SamplingRuleNameMax})
		}
	}
}

// Every log group Terraform creates keeps its logs for the stack's
// retention (the model's, or log_retention_days), never forever: the
// functions', the API's access log and the state machines' execution
// logs, which are all the model's log groups (deployment.LogGroups).
func TestEveryLogGroupHasRetention(t *testing.T) {
	for _, p := range retentionProblems(tfSources(t)) {
		t.Error(p)
	}
	// Each kind of the model's log groups has its resource.
	d := buildModel(t, "shop")
	if want := len(d.Functions) + 1 + len(d.StateMachines); len(d.LogGroups()) != want {
		t.Errorf("the model has %d log groups, want %d (functions, API, state machines): a new kind needs its resource here", len(d.LogGroups()), want)
	}
	src := tfSources(t)
	for path, wants := range map[string]string{
		filepath.Join("modules", "function", "main.tf"):      "var.function.logGroup",
		filepath.Join("modules", "http_api", "main.tf"):      "var.api.accessLogGroup",
		filepath.Join("modules", "state_machine", "main.tf"): "var.state_machine.logGroup",
	} {
		if !bytes.Contains(src[path], []byte("name              = "+wants)) {
			t.Errorf("%s creates no log group named %s", path, wants)
		}
	}
}

func TestRetentionCheckCatchesAGroupWithout(t *testing.T) {
	problems := retentionProblems(map[string][]byte{
		"a.tf": []byte("resource \"aws_cloudwatch_log_group\" \"x\" {\n  name = \"x\"\n}\n"),
	})
	assertMentions(t, problems, "a.tf", "retention_in_days")
}

var logGroupResource = regexp.MustCompile(`(?m)^resource\s+"aws_cloudwatch_log_group"`)

func retentionProblems(files map[string][]byte) []string {
	var problems []string
	for _, name := range sortedKeys(files) {
		src := files[name]
		for _, m := range logGroupResource.FindAllIndex(src, -1) {
			block := src[m[0]:]
			if end := bytes.Index(block, []byte("\n}\n")); end >= 0 {
				block = block[:end]
			}
			if !regexp.MustCompile(`(?m)^\s+retention_in_days\s*=\s*var\.`).Match(block) {
				problems = append(problems, fmt.Sprintf("%s:%d: a log group without retention_in_days from a variable: it would keep its logs forever", name, lineOf(src, m[0])))
			}
		}
	}
	return problems
}

// Active tracing, as the model says: the functions' mode and the state
// machines' setting reach their resources (the state machine's only off
// an emulator, which keeps none: main.tf). The HTTP API has no tracing to
// set.
func TestTracingIsTheModels(t *testing.T) {
	src := tfSources(t)
	for path, wants := range map[string]string{
		filepath.Join("modules", "function", "main.tf"):      "mode = var.function.tracing",
		filepath.Join("modules", "state_machine", "main.tf"): "for_each = var.send_tracing ? [var.state_machine.tracing] : []",
	} {
		if !bytes.Contains(src[path], []byte(wants)) {
			t.Errorf("%s: no %q", path, wants)
		}
	}
	d := buildModel(t, "shop")
	for _, fn := range d.Functions {
		if fn.Tracing != deployment.Tracing {
			t.Errorf("%s: tracing %q", fn.Name, fn.Tracing)
		}
	}
	for _, sm := range d.StateMachines {
		if !sm.Tracing {
			t.Errorf("%s: no tracing", sm.Name)
		}
	}
}

// Terraform's cors_allowed_origins admits what the local deployer's setting
// admits: its validation spells the model's origin pattern (RE2 in both),
// and "*" alone.
func TestCORSOriginsValidateWithTheModelsPattern(t *testing.T) {
	src := tfSources(t)["variables.tf"]
	i := bytes.Index(src, []byte(`variable "cors_allowed_origins"`))
	if i < 0 {
		t.Fatal("variables.tf: no variable cors_allowed_origins")
	}
	block := string(src[i:])
	if end := strings.Index(block, "\n}\n"); end >= 0 {
		block = block[:end]
	}
	for _, want := range []string{
		fmt.Sprintf("can(regex(%q, o))", deployment.OriginPattern),
		fmt.Sprintf("var.cors_allowed_origins[0] == %q", deployment.AnyOrigin),
		"default     = []",
	} {
		if !strings.Contains(block, want) {
			t.Errorf("variables.tf: cors_allowed_origins has no %s", want)
		}
	}
	if src := tfSources(t)[filepath.Join("modules", "http_api", "main.tf")]; !bytes.Contains(src, []byte("allow_origins     = cors_configuration.value.allowOrigins")) {
		t.Error("modules/http_api/main.tf: the API's cors_configuration does not take the allowed origins")
	}
}

// Every alarm of the model is created, with the model's own fields and
// nothing of Terraform's: modules/observability reads each field of an
// alarm and of a sampling rule from the model.
func TestObservabilityMapsEveryField(t *testing.T) {
	src := tfSources(t)[filepath.Join("modules", "observability", "main.tf")]
	d := buildModel(t, "shop")
	fields := map[string]bool{}
	for _, v := range []any{d.Observability.Alarms[0], d.Observability.SamplingRules[0], deployment.MetricQuery{}, deployment.MetricStat{}} {
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			fields[strings.Split(typ.Field(i).Tag.Get("json"), ",")[0]] = true
		}
	}
	for f := range fields {
		if f == "queries" || f == "metric" {
			continue // the dynamic blocks
		}
		if !bytes.Contains(src, []byte("."+f)) {
			t.Errorf("modules/observability/main.tf does not map the model's %s", f)
		}
	}
}

// ---------------------------------------------------------------------------
// Test helpers

func loadManifests(t *testing.T) *manifest.Set {
	t.Helper()
	set, err := manifest.Load(repoRoot)
	if err != nil {
		t.Fatalf("manifests under %s: %v", repoRoot, err)
	}
	return set
}

func buildModel(t *testing.T, prefix string) *deployment.Deployment {
	t.Helper()
	d, err := deployment.Build(loadManifests(t), deployment.Params{Prefix: prefix, Region: "us-east-1", Account: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// tfSources reads every .tf file under infra/, by path.
func tfSources(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(infraDir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && e.Name() == ".terraform" {
			return filepath.SkipDir
		}
		if e.IsDir() || !strings.HasSuffix(path, ".tf") {
			return nil
		}
		src, err := os.ReadFile(path)
		files[path] = src
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no .tf files under infra/")
	}
	return files
}

// topLevelBlock returns the header line of the top-level block holding
// offset ("resource \"aws_iam_role\" \"this\" {"), or "". In a formatted
// file (make lint runs terraform fmt) a top-level block opens at the start
// of a line and closes with a "}" line of its own.
func topLevelBlock(src []byte, offset int) string {
	header := ""
	for _, line := range strings.SplitAfter(string(src[:offset]), "\n") {
		switch {
		case strings.HasPrefix(line, "}"):
			header = ""
		case line != "" && line[0] != ' ' && line[0] != '#' && strings.HasSuffix(strings.TrimSpace(line), "{"):
			header = strings.TrimSpace(line)
		}
	}
	return header
}

func lineOf(src []byte, offset int) int { return bytes.Count(src[:offset], []byte("\n")) + 1 }

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// assertMentions fails unless every word appears in some problem.
func assertMentions(t *testing.T, problems []string, words ...string) {
	t.Helper()
	all := strings.Join(problems, "\n")
	if len(problems) == 0 {
		t.Errorf("no problem reported; want mentions of %v", words)
		return
	}
	for _, w := range words {
		if !strings.Contains(all, w) {
			t.Errorf("problems do not mention %q:\n%s", w, all)
		}
	}
}
