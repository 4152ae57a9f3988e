// Package infra is the Terraform deployment of shop (see README.md). These
// tests check it without Terraform or the AWS provider: every .tf file parses
// and is formatted; the root module's manifest-reading locals, evaluated for
// real, yield exactly the services, tables, functions and routes that
// shared/manifest loads, and those flow through the modules into the right
// physical names, environment, IAM statements, API routes, Lambda authorizer
// and token key containers; and the structure holds the rules a reviewer
// would otherwise have to re-check by eye (runtime, tracing, least
// privilege, no hard-coded topology, no key material in Terraform).
package infra

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/shop-serverless/shop/shared/awscalls"
	"github.com/shop-serverless/shop/shared/faults"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
)

const (
	infraDir  = "."  // go test runs in the package directory
	repoRoot  = ".." // where functions/ lives
	maxAWSLen = 64   // Lambda function and IAM role names
)

// ---------------------------------------------------------------------------
// Syntax and formatting

func TestTerraformParsesAndIsFormatted(t *testing.T) {
	files := tfFiles(t, infraDir)
	if len(files) == 0 {
		t.Fatal("no .tf files under infra/")
	}
	parser := hclparse.NewParser()
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, diags := parser.ParseHCL(src, name); diags.HasErrors() {
			t.Errorf("%s does not parse: %s", name, diags.Error())
			continue
		}
		if problem := formatProblem(name, src); problem != "" {
			t.Error(problem)
		}
	}
}

// formatProblem returns "" when src is formatted as `terraform fmt` would
// leave it, else the file name and the first differing lines.
func formatProblem(name string, src []byte) string {
	want := hclwrite.Format(src)
	if bytes.Equal(want, src) {
		return ""
	}
	have, fixed := strings.Split(string(src), "\n"), strings.Split(string(want), "\n")
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s is not formatted (run terraform fmt -recursive infra):", name)
	shown := 0
	for i := 0; i < max(len(have), len(fixed)) && shown < 5; i++ {
		var h, f string
		if i < len(have) {
			h = have[i]
		}
		if i < len(fixed) {
			f = fixed[i]
		}
		if h != f {
			fmt.Fprintf(&sb, "\n  line %d:\n    have %q\n    want %q", i+1, h, f)
			shown++
		}
	}
	return sb.String()
}

// The hclwrite check above is the gate; terraform fmt is a second opinion
// where the binary happens to be installed.
func TestTerraformFmtCheck(t *testing.T) {
	bin, err := exec.LookPath("terraform")
	if err != nil {
		t.Log("terraform is not on PATH; formatting is gated by the hclwrite check alone")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "fmt", "-check", "-recursive", "-diff", "-no-color")
	cmd.Dir = infraDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("terraform fmt -check -recursive failed (%v):\n%s", err, out)
	}
}

func TestFormatCheckCatchesUnformattedHCL(t *testing.T) {
	src := []byte("resource \"aws_sqs_queue\" \"q\" {\nname=\"x\"\n  delay_seconds    = 1\n}\n")
	problem := formatProblem("snippet.tf", src)
	if !strings.Contains(problem, "snippet.tf") || !strings.Contains(problem, "line 2") {
		t.Errorf("unformatted snippet not reported usefully: %q", problem)
	}
	if p := formatProblem("ok.tf", hclwrite.Format(src)); p != "" {
		t.Errorf("formatted snippet reported: %s", p)
	}
}

// ---------------------------------------------------------------------------
// Cross-check against the manifests

func TestDeploymentMatchesManifests(t *testing.T) {
	set := loadManifests(t, repoRoot)
	// The default prefix, then another one: nothing may hard-code "shop".
	for _, tc := range []struct{ override, prefix string }{{"", "shop"}, {"acme-test", "acme-test"}} {
		t.Run("prefix="+tc.prefix, func(t *testing.T) {
			overrides := map[string]cty.Value{}
			if tc.override != "" {
				overrides["name_prefix"] = cty.StringVal(tc.override)
			}
			d, err := evaluate(infraDir, overrides)
			if err != nil {
				t.Fatal(err)
			}
			// compare derives every expected name from d.prefix.
			if d.prefix != tc.prefix {
				t.Fatalf("name_prefix evaluates to %q, want %q", d.prefix, tc.prefix)
			}
			if len(d.skippedLocals) > 0 {
				t.Logf("root locals not evaluated (they refer to resources or modules): %v", d.skippedLocals)
			}
			for _, p := range compare(set, d) {
				t.Error(p)
			}
		})
	}
}

// A function added to the manifests must show up in Terraform, and the
// comparison must notice when it does not.
func TestCrossCheckCatchesDrift(t *testing.T) {
	orig := loadManifests(t, repoRoot)
	origDeployment, err := evaluate(infraDir, nil)
	if err != nil {
		t.Fatal(err)
	}

	tmp := copyRepo(t)
	// An extra function with its own environment and no DynamoDB permission,
	// exercising the optional parts of the manifest the real ones leave out.
	writeFile(t, filepath.Join(tmp, "functions", "users", "drift-probe", "function.yaml"), `
name: users-drift-probe
description: Exists only in this test.
kind: http
http: {method: GET, path: /v1/drift-probe, auth: none}
memory: 128
timeout: 3
environment:
  GREETING: hello
`)
	grown := loadManifests(t, tmp)
	d, err := evaluate(filepath.Join(tmp, "infra"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if problems := compare(grown, d); len(problems) > 0 {
		t.Errorf("Terraform does not follow the grown manifests:\n%s", strings.Join(problems, "\n"))
	}
	fn := d.services["users"].functions["users-drift-probe"]
	if fn == nil {
		t.Fatal("users-drift-probe missing from the users module instance")
	}
	if n := len(fn.statementsWith("dynamodb:")); n != 0 {
		t.Errorf("a function without DynamoDB permissions got %d DynamoDB statements", n)
	}

	// Old Terraform view, new manifests: the comparison must name the probe.
	assertMentions(t, compare(grown, origDeployment), "users-drift-probe", "GET /v1/drift-probe")
	// New Terraform view, old manifests: the same, from the other side.
	assertMentions(t, compare(orig, d), "users-drift-probe")
}

// Terraform's yamldecode reads an unquoted `on` as true where the manifest
// loader reads "on": the function would get FEATURE=true. The comparison
// must catch that, and a quoted value must pass.
func TestCrossCheckCatchesYAMLBooleanDrift(t *testing.T) {
	for _, tc := range []struct {
		value string
		ok    bool
	}{{`on`, false}, {`"on"`, true}} {
		tmp := copyRepo(t)
		writeFile(t, filepath.Join(tmp, "functions", "users", "yaml-probe", "function.yaml"), `
name: users-yaml-probe
description: Exists only in this test.
kind: http
http: {method: GET, path: /v1/yaml-probe, auth: none}
memory: 128
timeout: 3
environment:
  FEATURE: `+tc.value+"\n")
		if !tc.ok {
			// The loader refuses what Terraform would read differently, so
			// the drift cannot reach a deployment.
			if _, err := manifest.Load(tmp); err == nil || !strings.Contains(err.Error(), "quote") {
				t.Errorf("FEATURE: %s: manifest.Load err = %v, want a request to quote the value", tc.value, err)
			}
			continue
		}
		set := loadManifests(t, tmp)
		d, err := evaluate(filepath.Join(tmp, "infra"), nil)
		if err != nil {
			t.Fatal(err)
		}
		problems := compare(set, d)
		if len(problems) > 0 {
			t.Errorf("FEATURE: %s: unexpected problems:\n%s", tc.value, strings.Join(problems, "\n"))
		}
	}
}

// The expectations were read from `terraform console` (Terraform 1.11).
func TestYAMLDecodeMatchesTerraform(t *testing.T) {
	for src, want := range map[string]cty.Value{
		"a: on":           cty.ObjectVal(map[string]cty.Value{"a": cty.True}),
		`a: "on"`:         cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("on")}),
		"a: 2024-01-02":   cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("2024-01-02T00:00:00Z")}),
		"a: 0x10":         cty.ObjectVal(map[string]cty.Value{"a": cty.NumberIntVal(16)}),
		"a: [1, x]":       cty.ObjectVal(map[string]cty.Value{"a": cty.TupleVal([]cty.Value{cty.NumberIntVal(1), cty.StringVal("x")})}),
		"a: {b: none}":    cty.ObjectVal(map[string]cty.Value{"a": cty.ObjectVal(map[string]cty.Value{"b": cty.StringVal("none")})}),
		"a: ~":            cty.ObjectVal(map[string]cty.Value{"a": cty.NullVal(cty.DynamicPseudoType)}),
		"a: 2.5 # memory": cty.ObjectVal(map[string]cty.Value{"a": cty.NumberFloatVal(2.5)}),
	} {
		got, err := yamlDecode(src)
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if !got.RawEquals(want) {
			t.Errorf("%q: got %s, want %s", src, got.GoString(), want.GoString())
		}
	}
}

// A Terraform expression that misses manifests must fail the comparison.
func TestCrossCheckCatchesANarrowedGlob(t *testing.T) {
	set := loadManifests(t, repoRoot)
	tmp := copyRepo(t)
	mainTF := filepath.Join(tmp, "infra", "main.tf")
	src, err := os.ReadFile(mainTF)
	if err != nil {
		t.Fatal(err)
	}
	narrowed := strings.Replace(string(src), `"*/*/function.yaml"`, `"users/*/function.yaml"`, 1)
	if narrowed == string(src) {
		t.Fatal(`main.tf no longer globs "*/*/function.yaml"; update this test`)
	}
	writeFile(t, mainTF, narrowed)
	d, err := evaluate(filepath.Join(tmp, "infra"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var inventory []string
	for _, fn := range set.Service("inventory").Functions {
		inventory = append(inventory, fn.Name)
	}
	assertMentions(t, compare(set, d), inventory...)
}

// Protected routes go through the authorizer and open ones do not, whatever
// the manifests of the day say; and the comparison notices a protected
// route deployed open.
func TestProtectedRoutesGoThroughTheAuthorizer(t *testing.T) {
	tmp := copyRepo(t)
	setAuth(t, tmp, "users/get", "user")
	setAuth(t, tmp, "inventory/get", "scope:inventory:read")
	setAuth(t, tmp, "users/register", "none")
	set := loadManifests(t, tmp)
	if set.Authorizer() == nil {
		t.Fatal("the manifests have no authorizer function")
	}
	d, err := evaluate(filepath.Join(tmp, "infra"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if problems := compare(set, d); len(problems) > 0 {
		t.Errorf("Terraform does not follow the manifests:\n%s", strings.Join(problems, "\n"))
	}
	for name, want := range map[string]string{"users-get": "CUSTOM", "inventory-get": "CUSTOM", "users-register": "NONE"} {
		if got := show(d.routes[name].route["authorization_type"]); got != fmt.Sprintf("%q", want) {
			t.Errorf("%s: authorization_type is %s, want %q", name, got, want)
		}
	}

	// Terraform that leaves every route open must be caught.
	apiTF := filepath.Join(tmp, "infra", "modules", "http_api", "main.tf")
	src, err := os.ReadFile(apiTF)
	if err != nil {
		t.Fatal(err)
	}
	openRE := regexp.MustCompile(`(?m)^(\s*authorization_type\s*=).*$`)
	if !openRE.Match(src) {
		t.Fatal("modules/http_api/main.tf sets no authorization_type; update this test")
	}
	writeFile(t, apiTF, openRE.ReplaceAllString(string(src), `$1 "NONE"`))
	open, err := evaluate(filepath.Join(tmp, "infra"), nil)
	if err != nil {
		t.Fatal(err)
	}
	assertMentions(t, compare(set, open), "route of users-get", "route of inventory-get")
}

// The API has one authorizer, named after the stack like the local
// deployer's; the comparison must notice one named after its function.
func TestAuthorizerIsNamedAfterTheStack(t *testing.T) {
	set := loadManifests(t, repoRoot)
	authz := set.Authorizer()
	if authz == nil {
		t.Fatal("the manifests have no authorizer function")
	}
	for _, prefix := range []string{"shop", "acme-test"} {
		d, err := evaluate(infraDir, map[string]cty.Value{"name_prefix": cty.StringVal(prefix)})
		if err != nil {
			t.Fatal(err)
		}
		if len(d.authorizers) != 1 {
			t.Fatalf("prefix %s: want one authorizer, found %d", prefix, len(d.authorizers))
		}
		if got, want := show(d.authorizers[0]["name"]), fmt.Sprintf("%q", prefix+"-authorizer"); got != want {
			t.Errorf("prefix %s: authorizer name is %s, want %s", prefix, got, want)
		}
	}

	tmp := copyRepo(t)
	apiTF := filepath.Join(tmp, "infra", "modules", "http_api", "main.tf")
	src, err := os.ReadFile(apiTF)
	if err != nil {
		t.Fatal(err)
	}
	nameRE := regexp.MustCompile(`(?m)^(\s*name\s*=\s*)var\.authorizer_name\s*$`)
	if !nameRE.Match(src) {
		t.Fatal("modules/http_api/main.tf does not name the authorizer var.authorizer_name; update this test")
	}
	writeFile(t, apiTF, nameRE.ReplaceAllString(string(src), "${1}var.authorizer.function_name"))
	d, err := evaluate(filepath.Join(tmp, "infra"), nil)
	if err != nil {
		t.Fatal(err)
	}
	assertMentions(t, compare(set, d), "authorizer "+authz.Name+": name")
}

// A route the manifest protects must stop the plan when there is no
// authorizer to protect it, not deploy open.
func TestProtectedRouteIsRefusedWithoutAnAuthorizer(t *testing.T) {
	tmp := copyRepo(t)
	set := loadManifests(t, tmp)
	if authz := set.Authorizer(); authz != nil {
		if err := os.RemoveAll(filepath.Join(tmp, filepath.FromSlash(authz.Dir))); err != nil {
			t.Fatal(err)
		}
	}
	setAuth(t, tmp, "users/get", "user")
	setAuth(t, tmp, "users/register", "none")
	if _, err := manifest.Load(tmp); err == nil || !strings.Contains(err.Error(), "authorizer") {
		t.Errorf("manifest.Load err = %v, want a refusal naming the missing authorizer", err)
	}

	d, err := evaluate(filepath.Join(tmp, "infra"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.authorizers) != 0 || len(d.authorizerPermissions) != 0 {
		t.Errorf("no authorizer function, yet %d authorizers and %d permissions", len(d.authorizers), len(d.authorizerPermissions))
	}
	r := d.routes["users-get"]
	if r == nil {
		t.Fatal("no route for users-get")
	}
	if r.preconditionOK {
		t.Error(`a route with auth "user" and no authorizer passes its preconditions; it would be deployed open`)
	}
	if !strings.Contains(r.preconditionMessage, "authorizer") {
		t.Errorf("precondition message does not explain the refusal: %q", r.preconditionMessage)
	}
	if r := d.routes["users-register"]; r == nil || !r.preconditionOK {
		t.Error("an open route is refused as well")
	}
}

// A function with signingKey may read its own service's signing secret and
// no other; the service gets that secret; functions without get nothing.
func TestSigningKeyGrantsReadOfItsOwnIssuerSecretOnly(t *testing.T) {
	orig := loadManifests(t, repoRoot)
	origDeployment, err := evaluate(infraDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range orig.Service("inventory").Functions {
		if fn.Permissions.SigningKey {
			t.Fatalf("%s already signs tokens; pick another service for this test", fn.Name)
		}
	}

	tmp := copyRepo(t)
	// A service that signs declares what its issuer may mint (manifest.Tokens).
	svcFile := filepath.Join(tmp, "functions", "inventory", "service.yaml")
	svcYAML, err := os.ReadFile(svcFile)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, svcFile, string(svcYAML)+"tokens: {kinds: [service], scopes: [users:read]}\n")
	writeFile(t, filepath.Join(tmp, "functions", "inventory", "sign-probe", "function.yaml"), `
name: inventory-sign-probe
description: Exists only in this test.
kind: step
memory: 128
timeout: 3
permissions:
  signingKey: true
`)
	grown := loadManifests(t, tmp)
	d, err := evaluate(filepath.Join(tmp, "infra"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if problems := compare(grown, d); len(problems) > 0 {
		t.Errorf("Terraform does not follow the grown manifests:\n%s", strings.Join(problems, "\n"))
	}
	secret := naming.SigningSecret("shop", "inventory")
	if got, _ := asString(d.secrets["inventory"]["name"]); got != secret {
		t.Errorf("signing secret of inventory is %q, want %q", got, secret)
	}
	for name, fd := range d.services["inventory"].functions {
		sts := fd.statementsWith("secretsmanager:")
		if name != "inventory-sign-probe" {
			if len(sts) != 0 {
				t.Errorf("%s does not ask for signingKey, yet may read secrets: %v", name, sts)
			}
			continue
		}
		if len(sts) != 1 {
			t.Fatalf("%s: want one Secrets Manager statement, found %d", name, len(sts))
		}
		actions, _ := stringList(sts[0]["actions"])
		resources, _ := stringList(sts[0]["resources"])
		if want := []string{fakeARN("secretsmanager", "secret:"+secret)}; !slices.Equal(actions, []string{"secretsmanager:GetSecretValue"}) || !slices.Equal(resources, want) {
			t.Errorf("%s: grants %v on %v, want secretsmanager:GetSecretValue on %v", name, actions, resources, want)
		}
	}

	// Each side of the drift must be named.
	assertMentions(t, compare(grown, origDeployment), "inventory-sign-probe", "signing secret of issuer inventory")
	assertMentions(t, compare(orig, d), "inventory-sign-probe", "signing secret of issuer inventory")
}

// A function with breakers may read and write BREAKER# items of the platform
// table and nothing else there; without a platform service the plan stops.
func TestBreakersReachOnlyBreakerItemsOfThePlatformTable(t *testing.T) {
	tmp := copyRepo(t)
	writeFile(t, filepath.Join(tmp, "functions", "users", "breaker-probe", "function.yaml"), `
name: users-breaker-probe
description: Exists only in this test.
kind: event
memory: 128
timeout: 3
permissions:
  dynamodb: [GetItem]
  breakers: true
`)
	set := loadManifests(t, tmp)
	if set.Service(naming.PlatformService) == nil {
		t.Fatalf("no %s service in the manifests", naming.PlatformService)
	}
	d, err := evaluate(filepath.Join(tmp, "infra"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if problems := compare(set, d); len(problems) > 0 {
		t.Errorf("Terraform does not follow the manifests:\n%s", strings.Join(problems, "\n"))
	}
	fd := d.services["users"].functions["users-breaker-probe"]
	if fd == nil {
		t.Fatal("users-breaker-probe missing from the users module instance")
	}
	platformTable := fakeARN("dynamodb", "table/"+naming.Table("shop", naming.PlatformService))
	var onPlatform int
	for _, st := range fd.statementsWith("dynamodb:") {
		resources, _ := stringList(st["resources"])
		if !slices.Contains(resources, platformTable) {
			continue
		}
		onPlatform++
		if len(resources) != 1 {
			t.Errorf("the breaker statement also covers %v", resources)
		}
		if got := show(st["condition"]); !strings.Contains(got, "ForAllValues:StringLike") || !strings.Contains(got, "dynamodb:LeadingKeys") || !strings.Contains(got, "BREAKER#*") {
			t.Errorf("the breaker statement is not limited to BREAKER# items: condition %s", got)
		}
	}
	if onPlatform != 1 {
		t.Errorf("want one statement on the platform table, found %d", onPlatform)
	}

	// No platform service: no table for the breakers, and the plan must stop.
	if err := os.RemoveAll(filepath.Join(tmp, "functions", naming.PlatformService)); err != nil {
		t.Fatal(err)
	}
	d, err = evaluate(filepath.Join(tmp, "infra"), nil)
	if err != nil {
		t.Fatal(err)
	}
	fd = d.services["users"].functions["users-breaker-probe"]
	if fd.policyOK {
		t.Error("breakers without a platform service pass the role policy's preconditions")
	}
	if !strings.Contains(fd.policyMessage, "platform") {
		t.Errorf("precondition message does not explain the refusal: %q", fd.policyMessage)
	}
	if other := d.services["users"].functions["users-register"]; other == nil || !other.policyOK {
		t.Error("a function without breakers is refused as well")
	}
}

// The functions added for the authorizer and the keys; the expectations were
// read from `terraform console` (Terraform 1.11).
func TestNewFunctionsMatchTerraform(t *testing.T) {
	call := func(src string) (cty.Value, error) {
		expr, diags := hclsyntax.ParseExpression([]byte(src), "test.tf", hcl.InitialPos)
		if diags.HasErrors() {
			return cty.NilVal, diags
		}
		v, diags := expr.Value(&hcl.EvalContext{Functions: tfFunctions})
		if diags.HasErrors() {
			return cty.NilVal, diags
		}
		return v, nil
	}
	for src, want := range map[string]cty.Value{
		`one([])`:                   cty.NullVal(cty.DynamicPseudoType),
		`one(["a"])`:                cty.StringVal("a"),
		`try({ a = 1 }.b, null)`:    cty.NullVal(cty.DynamicPseudoType),
		`jsonencode({ keys = [] })`: cty.StringVal(`{"keys":[]}`),
	} {
		got, err := call(src)
		if err != nil || !got.RawEquals(want) {
			t.Errorf("%s = %s, %v; want %s", src, show(got), err, show(want))
		}
	}
	if _, err := call(`one(["a", "b"])`); err == nil || !strings.Contains(err.Error(), "either zero or one elements") {
		t.Errorf(`one(["a", "b"]): err = %v, want Terraform's "either zero or one elements"`, err)
	}
}

// ---------------------------------------------------------------------------
// Structure

func TestLambdaFunctionsAreGravitonAL2023Traced(t *testing.T) {
	found := 0
	for _, m := range allModules(t) {
		for _, b := range m.find("resource", "aws_lambda_function") {
			found++
			where := fmt.Sprintf("%s: aws_lambda_function.%s", m.dir, b.Labels[1])
			expectLiteral(t, where, b, "runtime", cty.StringVal("provided.al2023"))
			expectLiteral(t, where, b, "handler", cty.StringVal("bootstrap"))
			expectLiteral(t, where, b, "architectures", cty.TupleVal([]cty.Value{cty.StringVal("arm64")}))
			expectNestedLiteral(t, where, b, "tracing_config", "mode", cty.StringVal("Active"))
			expectNestedLiteral(t, where, b, "logging_config", "log_format", cty.StringVal("JSON"))
			if got := forEachTraversal(b); got != "var.functions" {
				t.Errorf("%s: for_each is %q, want var.functions (one instance per manifest)", where, got)
			}
		}
	}
	if found == 0 {
		t.Fatal("no aws_lambda_function in any module")
	}
}

func TestIAMPoliciesAreLeastPrivilege(t *testing.T) {
	for _, m := range allModules(t) {
		for _, p := range policyProblems(m) {
			t.Error(p)
		}
	}
}

func TestPolicyCheckCatchesForeignResources(t *testing.T) {
	for name, snippet := range map[string]string{
		"wildcard": `data "aws_iam_policy_document" "this" {
  statement {
    actions   = ["dynamodb:GetItem"]
    resources = ["*"]
  }
}`,
		"other table": `data "aws_iam_policy_document" "this" {
  dynamic "statement" {
    for_each = [1]
    content {
      actions   = ["dynamodb:Query"]
      resources = [aws_dynamodb_table.other.arn]
    }
  }
}`,
		"breakers without the condition": `data "aws_iam_policy_document" "this" {
  statement {
    actions   = ["dynamodb:GetItem"]
    resources = [var.breaker_table_arn]
  }
}`,
		"breakers on any key": `data "aws_iam_policy_document" "this" {
  statement {
    actions   = ["dynamodb:PutItem"]
    resources = [var.breaker_table_arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = ["*"]
    }
  }
}`,
		"every secret": `data "aws_iam_policy_document" "this" {
  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["arn:aws:secretsmanager:*:*:secret:*"]
  }
}`,
		"another issuer's secret": `data "aws_iam_policy_document" "this" {
  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.other_secret_arn]
  }
}`,
		"parameter and table together": `data "aws_iam_policy_document" "this" {
  statement {
    actions   = ["ssm:GetParameter", "dynamodb:GetItem"]
    resources = [var.jwks_parameter_arn, aws_dynamodb_table.this.arn]
  }
}`,
		"all actions": `data "aws_iam_policy_document" "this" {
  statement {
    actions   = ["dynamodb:*"]
    resources = [aws_dynamodb_table.this.arn]
  }
}`,
		"inline json": `resource "aws_iam_role_policy" "p" {
  role   = "r"
  policy = jsonencode({ Statement = [] })
}`,
		"managed policy": `resource "aws_iam_role_policy_attachment" "a" {
  role       = "r"
  policy_arn = "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"
}`,
	} {
		t.Run(name, func(t *testing.T) {
			if problems := policyProblems(moduleFromSource(t, snippet)); len(problems) == 0 {
				t.Error("not reported")
			}
		})
	}
}

func TestHTTPAPIHasOneIntegrationRouteAndPermissionPerFunction(t *testing.T) {
	m, err := parseModule(filepath.Join(infraDir, "modules", "http_api"))
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"aws_apigatewayv2_integration", "aws_apigatewayv2_route", "aws_lambda_permission"} {
		bs := m.find("resource", typ, "this")
		if len(bs) != 1 {
			t.Errorf("modules/http_api: want one %s.this, found %d", typ, len(bs))
			continue
		}
		if got := forEachTraversal(bs[0]); got != "var.functions" {
			t.Errorf("modules/http_api: %s.%s for_each is %q, want var.functions", typ, bs[0].Labels[1], got)
		}
	}
	for _, b := range m.find("resource", "aws_apigatewayv2_route") {
		var preconditions int
		for _, lc := range childBlocks(b, "lifecycle") {
			preconditions += len(childBlocks(lc, "precondition"))
		}
		if preconditions == 0 {
			t.Errorf("modules/http_api: aws_apigatewayv2_route.%s has no precondition guarding its auth", b.Labels[1])
		}
	}
}

// module.service's arguments read the platform table from one of its own
// instances. Terraform accepts that only with a literal instance key, which
// lets it follow the reference to that one output; a computed key makes it
// depend on every output and the plan fails with "Cycle". The evaluator here
// resolves either, so this is checked on the syntax tree.
func TestServiceModuleSelfReferenceHasALiteralKey(t *testing.T) {
	root, err := parseModule(infraDir)
	if err != nil {
		t.Fatal(err)
	}
	call, err := root.one("module", "service")
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range call.Body.Attributes {
		for _, tr := range a.Expr.Variables() {
			if traversalString(tr) == "module.service" {
				t.Errorf("%s: module.service argument %s refers to module.service with a computed key; use a literal one", a.SrcRange, name)
			}
		}
	}
}

// Terraform creates the key containers and never a key: a secret value or
// version would put private keys into the state and roll them back on the
// next apply, and a JWKS value it enforced would undo every rotation.
func TestNoKeyMaterialInTerraform(t *testing.T) {
	for _, m := range allModules(t) {
		for _, p := range keyMaterialProblems(m) {
			t.Error(p)
		}
	}
}

func TestKeyMaterialCheckCatchesSecretValues(t *testing.T) {
	for name, snippet := range map[string]string{
		"secret version": `resource "aws_secretsmanager_secret_version" "v" {
  secret_id     = "x"
  secret_string = "{}"
}`,
		"rotation by Terraform": `resource "aws_secretsmanager_secret_rotation" "r" {
  secret_id = "x"
}`,
		"enforced JWKS": `resource "aws_ssm_parameter" "jwks" {
  name  = "/p/jwks"
  type  = "String"
  value = "{}"
}`,
	} {
		t.Run(name, func(t *testing.T) {
			if problems := keyMaterialProblems(moduleFromSource(t, snippet)); len(problems) == 0 {
				t.Error("not reported")
			}
		})
	}
}

// keyMaterialProblems: no resource writes a secret's value, and every SSM
// parameter leaves its value to the tool that owns it.
func keyMaterialProblems(m *tfModule) []string {
	var problems []string
	for _, b := range m.blocks {
		if b.Type != "resource" || len(b.Labels) != 2 {
			continue
		}
		typ := b.Labels[0]
		if strings.HasPrefix(typ, "aws_secretsmanager_secret_") {
			problems = append(problems, fmt.Sprintf("%s: %s.%s: Terraform must not write or rotate secret values", b.DefRange(), typ, b.Labels[1]))
		}
		if typ != "aws_ssm_parameter" {
			continue
		}
		ignored := false
		for _, lc := range childBlocks(b, "lifecycle") {
			if a, ok := lc.Body.Attributes["ignore_changes"]; ok {
				exprs, _ := hcl.ExprList(a.Expr)
				for _, e := range exprs {
					ignored = ignored || hcl.ExprAsKeyword(e) == "value"
				}
			}
		}
		if !ignored {
			problems = append(problems, fmt.Sprintf("%s: aws_ssm_parameter.%s: lifecycle must ignore_changes = [value]; its content belongs to infra/keytool", b.DefRange(), b.Labels[1]))
		}
	}
	return problems
}

// No physical name, route or path from the manifests may be written into
// Terraform: all of it must come from the YAML.
func TestNoTopologyLiteralsInTerraform(t *testing.T) {
	set := loadManifests(t, repoRoot)
	files := map[string][]byte{}
	for _, name := range tfFiles(t, infraDir) {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = src
	}
	for _, p := range literalProblems(files, topologyLiterals(set)) {
		t.Error(p)
	}
}

func TestLiteralCheckCatchesHardCodedTopology(t *testing.T) {
	set := loadManifests(t, repoRoot)
	fn := set.Functions()[0]
	snippet := fmt.Sprintf("resource \"aws_apigatewayv2_route\" \"r\" {\n  route_key = %q\n}\n", fn.HTTP.RouteKey())
	problems := literalProblems(map[string][]byte{"snippet.tf": []byte(snippet)}, topologyLiterals(set))
	assertMentions(t, problems, "snippet.tf", fn.HTTP.RouteKey())
}

// The local stack's test switches (fault injection, recording of AWS calls)
// must never reach AWS; not even their names belong anywhere under infra/
// (this file takes them from the Go constants, so it does not spell them).
// The environment comparison with manifest.Environment already keeps them
// out of the functions Terraform declares; this keeps them out of the rest.
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

// ---------------------------------------------------------------------------
// Structural checks on the syntax tree

// policyProblems checks every IAM policy in m without evaluating it: policies
// are attached only as aws_iam_policy_document data sources (so every
// statement is visible here), no managed policies are attached, no statement
// uses a wildcard action, and every DynamoDB statement names only this
// module's table (aws_dynamodb_table.this.arn, optionally with /index/*).
func policyProblems(m *tfModule) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	for _, typ := range []string{"aws_iam_role_policy_attachment", "aws_iam_policy_attachment", "aws_iam_role_policies_exclusive", "aws_iam_role_policy_attachments_exclusive"} {
		for _, b := range m.find("resource", typ) {
			bad("%s: %s.%s attaches a policy not written here", b.DefRange(), typ, b.Labels[1])
		}
	}
	for _, b := range m.find("resource", "aws_iam_role") {
		for _, forbidden := range []string{"managed_policy_arns", "inline_policy"} {
			if _, ok := b.Body.Attributes[forbidden]; ok || len(childBlocks(b, forbidden)) > 0 {
				bad("%s: aws_iam_role.%s sets %s; grant through aws_iam_role_policy", b.DefRange(), b.Labels[1], forbidden)
			}
		}
	}
	for _, typ := range []string{"aws_iam_role_policy", "aws_iam_policy"} {
		for _, b := range m.find("resource", typ) {
			a, ok := b.Body.Attributes["policy"]
			vars := []hcl.Traversal(nil)
			if ok {
				vars = a.Expr.Variables()
			}
			if len(vars) == 0 || !strings.HasPrefix(traversalString(vars[0]), "data.aws_iam_policy_document.") {
				bad("%s: %s.%s: policy must come from an aws_iam_policy_document data source", b.DefRange(), typ, b.Labels[1])
			}
		}
	}

	for _, doc := range m.find("data", "aws_iam_policy_document") {
		var statements []*hclsyntax.Body
		for _, st := range childBlocks(doc, "statement") {
			statements = append(statements, st.Body)
		}
		for _, dyn := range childBlocks(doc, "dynamic") {
			if len(dyn.Labels) == 1 && dyn.Labels[0] == "statement" {
				for _, c := range childBlocks(dyn, "content") {
					statements = append(statements, c.Body)
				}
			}
		}
		for _, st := range statements {
			where := fmt.Sprintf("%s: statement at line %d", doc.Labels[1], st.SrcRange.Start.Line)
			actions := literalStrings(attrExpr(st, "actions"))
			for _, a := range actions {
				if a == "*" || strings.HasSuffix(a, ":*") {
					bad("%s grants every action (%q)", where, a)
				}
			}
			if _, ok := st.Attributes["not_actions"]; ok {
				bad("%s uses not_actions", where)
			}
			var services []string
			for _, a := range actions {
				svc, _, _ := strings.Cut(a, ":")
				if _, ok := resourceRefs[svc]; ok && !slices.Contains(services, svc) {
					services = append(services, svc)
				}
			}
			if len(services) == 0 {
				continue // logs and X-Ray, checked by the comparison
			}
			if len(services) > 1 {
				bad("%s mixes actions of %v; one service per statement", where, services)
				continue
			}
			svc := services[0]
			res := attrExpr(st, "resources")
			if res == nil {
				bad("%s: %s statement without resources", where, svc)
				continue
			}
			refs := res.Variables()
			if len(refs) == 0 {
				bad("%s: %s resources name nothing this module was given", where, svc)
			}
			var names []string
			for _, tr := range refs {
				got := traversalString(tr)
				names = append(names, got)
				if !slices.Contains(resourceRefs[svc], got) {
					bad("%s: %s resources refer to %s, want only %v", where, svc, got, resourceRefs[svc])
				}
			}
			for _, lit := range literalStrings(res) {
				if svc != "dynamodb" || lit != "/index/*" {
					bad("%s: %s resources contain the literal %q", where, svc, lit)
				}
			}
			if slices.Contains(names, "var.breaker_table_arn") {
				if len(slices.Compact(slices.Sorted(slices.Values(names)))) > 1 || len(literalStrings(res)) > 0 {
					bad("%s: the platform table shares a statement with other resources", where)
				}
				if !breakerCondition(st) {
					bad("%s: the platform table without the condition ForAllValues:StringLike dynamodb:LeadingKeys [\"BREAKER#*\"]", where)
				}
			}
			hclsyntax.VisitAll(res, func(n hclsyntax.Node) hcl.Diagnostics {
				switch n.(type) {
				case *hclsyntax.TupleConsExpr, *hclsyntax.ScopeTraversalExpr, *hclsyntax.TemplateExpr,
					*hclsyntax.TemplateWrapExpr, *hclsyntax.LiteralValueExpr:
				default:
					bad("%s: %s resources use a %T; write plain references", where, svc, n)
				}
				return nil
			})
		}
	}
	return problems
}

// resourceRefs lists, by the service of a statement's actions, the only
// references its resources may name: this module's table (and its indexes)
// or, for the breakers, the platform table; this service's signing secret;
// the published public keys. Logs and X-Ray are left to the comparison.
var resourceRefs = map[string][]string{
	"dynamodb":       {"aws_dynamodb_table.this.arn", "var.breaker_table_arn"},
	"secretsmanager": {"var.signing_secret_arn"},
	"ssm":            {"var.jwks_parameter_arn"},
}

// breakerCondition reports whether a statement holds exactly the literal
// condition that limits it to circuit-breaker items.
func breakerCondition(st *hclsyntax.Body) bool {
	var conds []*hclsyntax.Block
	for _, b := range st.Blocks {
		if b.Type == "condition" {
			conds = append(conds, b)
		}
	}
	if len(conds) != 1 {
		return false
	}
	want := map[string]cty.Value{
		"test":     cty.StringVal("ForAllValues:StringLike"),
		"variable": cty.StringVal("dynamodb:LeadingKeys"),
		"values":   cty.TupleVal([]cty.Value{cty.StringVal("BREAKER#*")}),
	}
	if len(conds[0].Body.Attributes) != len(want) {
		return false
	}
	for name, w := range want {
		a, ok := conds[0].Body.Attributes[name]
		if !ok {
			return false
		}
		got, diags := a.Expr.Value(nil) // nil context: must be a literal
		if diags.HasErrors() || !got.RawEquals(w) {
			return false
		}
	}
	return true
}

func attrExpr(body *hclsyntax.Body, name string) hclsyntax.Expression {
	if a, ok := body.Attributes[name]; ok {
		return a.Expr
	}
	return nil
}

// literalStrings collects the string literals inside an expression,
// including the literal parts of templates.
func literalStrings(expr hclsyntax.Expression) []string {
	if expr == nil {
		return nil
	}
	var out []string
	hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
		if lit, ok := n.(*hclsyntax.LiteralValueExpr); ok && lit.Val.Type() == cty.String {
			if s := lit.Val.AsString(); s != "" {
				out = append(out, s)
			}
		}
		return nil
	})
	return out
}

// topologyLiterals are the names from the manifests that must only ever
// reach Terraform through the YAML: function names (manifest and physical),
// table names, route keys, paths and index names.
func topologyLiterals(set *manifest.Set) []string {
	var out []string
	for _, svc := range set.Services {
		out = append(out, naming.Table("shop", svc.Name))
		for _, ix := range svc.Table.Indexes {
			out = append(out, ix.Name)
		}
	}
	for _, fn := range set.Functions() {
		out = append(out, fn.Name, naming.Function("shop", fn.Name))
		if fn.HTTP != nil {
			out = append(out, fn.HTTP.RouteKey(), fn.HTTP.Path)
		}
	}
	return out
}

func literalProblems(files map[string][]byte, literals []string) []string {
	var problems []string
	for _, name := range sortedKeys(files) {
		for _, lit := range literals {
			if i := bytes.Index(files[name], []byte(lit)); i >= 0 {
				line := bytes.Count(files[name][:i], []byte("\n")) + 1
				problems = append(problems, fmt.Sprintf("%s:%d: %q comes from the manifests and must not be written in Terraform", name, line, lit))
			}
		}
	}
	return problems
}

func forEachTraversal(b *hclsyntax.Block) string {
	a, ok := b.Body.Attributes["for_each"]
	if !ok {
		return ""
	}
	tr, diags := hcl.AbsTraversalForExpr(a.Expr)
	if diags.HasErrors() {
		return "<not a plain reference>"
	}
	return traversalString(tr)
}

func expectLiteral(t *testing.T, where string, b *hclsyntax.Block, name string, want cty.Value) {
	t.Helper()
	a, ok := b.Body.Attributes[name]
	if !ok {
		t.Errorf("%s: %s is not set", where, name)
		return
	}
	got, diags := a.Expr.Value(nil) // nil context: must be a literal
	if diags.HasErrors() || !got.Equals(want).True() {
		t.Errorf("%s: %s must be the literal %s", where, name, show(want))
	}
}

func expectNestedLiteral(t *testing.T, where string, b *hclsyntax.Block, block, name string, want cty.Value) {
	t.Helper()
	nested := childBlocks(b, block)
	if len(nested) != 1 {
		t.Errorf("%s: want one %s block, found %d", where, block, len(nested))
		return
	}
	expectLiteral(t, where+" "+block, nested[0], name, want)
}

// ---------------------------------------------------------------------------
// Test helpers

func loadManifests(t *testing.T, root string) *manifest.Set {
	t.Helper()
	set, err := manifest.Load(root)
	if err != nil {
		t.Fatalf("manifests under %s: %v", root, err)
	}
	return set
}

func tfFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && e.Name() == ".terraform" {
			return filepath.SkipDir
		}
		if !e.IsDir() && strings.HasSuffix(path, ".tf") {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func allModules(t *testing.T) []*tfModule {
	t.Helper()
	dirs := []string{infraDir}
	subs, err := filepath.Glob(filepath.Join(infraDir, "modules", "*"))
	if err != nil {
		t.Fatal(err)
	}
	dirs = append(dirs, subs...)
	var out []*tfModule
	for _, d := range dirs {
		m, err := parseModule(d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func moduleFromSource(t *testing.T, src string) *tfModule {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "main.tf"), src)
	m, err := parseModule(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// copyRepo copies the Terraform and the manifests into a temporary
// repository root (infra/ beside functions/), for tests that change them.
func copyRepo(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	for _, tree := range []struct{ dir, ext string }{{infraDir, ".tf"}, {filepath.Join(repoRoot, "functions"), ".yaml"}} {
		base := filepath.Base(tree.dir)
		if tree.dir == infraDir {
			base = "infra"
		}
		err := filepath.WalkDir(tree.dir, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() && e.Name() == ".terraform" {
				return filepath.SkipDir
			}
			if e.IsDir() || !strings.HasSuffix(path, tree.ext) {
				return nil
			}
			rel, err := filepath.Rel(tree.dir, path)
			if err != nil {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			writeFile(t, filepath.Join(tmp, base, rel), string(src))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return tmp
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// setAuth sets the auth level of the route in functions/<dir>/function.yaml
// of a copied repository.
func setAuth(t *testing.T, root, dir, auth string) {
	t.Helper()
	path := filepath.Join(root, "functions", filepath.FromSlash(dir), "function.yaml")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^(\s+auth:).*$`)
	if !re.Match(src) {
		t.Fatalf("%s declares no auth", path)
	}
	out := re.ReplaceAllString(string(src), "${1} "+auth)
	// A protected route's function verifies tokens itself: manifest.Load
	// insists that it may read the public keys.
	if auth != "none" && !strings.Contains(out, "publicKeys: true") {
		out = strings.Replace(out, "permissions:\n", "permissions:\n  publicKeys: true\n", 1)
	}
	writeFile(t, path, out)
}

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
