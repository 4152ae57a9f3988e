package main

import (
	"encoding/json"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"

	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/shop-serverless/shop/shared/manifest"
)

func TestConfigDiff(t *testing.T) {
	base := functionConfig{
		Role: "arn:aws:iam::000000000000:role/shop-users-get", Runtime: "provided.al2023", Handler: "bootstrap",
		MemoryMB: 128, Timeout: 5, Env: map[string]string{"SHOP_TABLE": "shop-users"},
	}
	with := func(change func(*functionConfig)) functionConfig {
		c := base
		c.Env = map[string]string{}
		for k, v := range base.Env {
			c.Env[k] = v
		}
		change(&c)
		return c
	}
	tests := []struct {
		name string
		have functionConfig
		want []string
	}{
		{"identical", with(func(*functionConfig) {}), nil},
		{"memory", with(func(c *functionConfig) { c.MemoryMB = 256 }), []string{"memory"}},
		{"timeout", with(func(c *functionConfig) { c.Timeout = 10 }), []string{"timeout"}},
		{"role", with(func(c *functionConfig) { c.Role = "arn:aws:iam::000000000000:role/other" }), []string{"role"}},
		{"env value", with(func(c *functionConfig) { c.Env["SHOP_TABLE"] = "x" }), []string{"environment"}},
		{"env extra key", with(func(c *functionConfig) { c.Env["EXTRA"] = "1" }), []string{"environment"}},
		{"env missing", with(func(c *functionConfig) { c.Env = nil }), []string{"environment"}},
		{"runtime and handler", with(func(c *functionConfig) { c.Runtime, c.Handler = "provided.al2", "main" }), []string{"runtime", "handler"}},
		{"several, in fixed order", with(func(c *functionConfig) { c.Timeout, c.Role, c.MemoryMB = 9, "r", 512 }), []string{"role", "memory", "timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := configDiff(base, tt.have); !slices.Equal(got, tt.want) {
				t.Errorf("configDiff = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestConfigDiffNilAndEmptyEnvironmentAreEqual(t *testing.T) {
	a := functionConfig{Env: nil}
	b := functionConfig{Env: map[string]string{}}
	if d := configDiff(a, b); len(d) != 0 {
		t.Errorf("configDiff(nil env, empty env) = %v, want none", d)
	}
}

func TestHaveConfigReadsLambdaConfiguration(t *testing.T) {
	mem, timeout := int32(256), int32(10)
	role, handler := "arn:role", "bootstrap"
	c := &ltypes.FunctionConfiguration{
		Role: &role, Handler: &handler, Runtime: ltypes.RuntimeProvidedal2023,
		MemorySize: &mem, Timeout: &timeout,
		Environment: &ltypes.EnvironmentResponse{Variables: map[string]string{"A": "1"}},
	}
	want := functionConfig{Role: role, Runtime: "provided.al2023", Handler: handler, MemoryMB: 256, Timeout: 10, Env: map[string]string{"A": "1"}}
	if d := configDiff(want, haveConfig(c)); len(d) != 0 {
		t.Errorf("haveConfig differs from the configuration in %v", d)
	}
	if got := haveConfig(&ltypes.FunctionConfiguration{}); got.Env != nil {
		t.Errorf("a configuration without Environment gave env %v", got.Env)
	}
}

func TestSamePolicy(t *testing.T) {
	doc := mustJSON(trustPolicy())
	reordered := `{"Statement":[{"Action":"sts:AssumeRole","Principal":{"Service":"lambda.amazonaws.com"},"Effect":"Allow"}],"Version":"2012-10-17"}`
	tests := []struct {
		name string
		have string
		want bool
	}{
		{"same bytes", doc, true},
		{"keys reordered, reformatted", reordered, true},
		{"URL-encoded as IAM returns it", url.QueryEscape(doc), true},
		{"different action", strings.Replace(doc, "sts:AssumeRole", "sts:TagSession", 1), false},
		{"not JSON", "nonsense", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := samePolicy(tt.have, doc); got != tt.want {
				t.Errorf("samePolicy = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFunctionPolicyIsLeastPrivilege(t *testing.T) {
	fn := &manifest.Function{Name: "users-get", Service: "users", Permissions: manifest.Permissions{DynamoDB: []string{"Query", "GetItem"}}}
	doc := functionPolicy("us-east-1", "000000000000", "shop", fn)
	var got struct {
		Statement []struct {
			Effect   string
			Action   []string
			Resource []string
		}
	}
	if err := json.Unmarshal([]byte(mustJSON(doc)), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Statement) != 2 {
		t.Fatalf("%d statements, want logs + dynamodb", len(got.Statement))
	}
	logs, ddb := got.Statement[0], got.Statement[1]
	wantLogs := []string{
		"arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/shop-users-get",
		"arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/shop-users-get:*",
	}
	if !slices.Equal(logs.Resource, wantLogs) {
		t.Errorf("logs resources %v, want only its own log group %v", logs.Resource, wantLogs)
	}
	if want := []string{"dynamodb:GetItem", "dynamodb:Query"}; !slices.Equal(ddb.Action, want) {
		t.Errorf("dynamodb actions %v, want exactly the manifest's %v", ddb.Action, want)
	}
	wantTable := []string{
		"arn:aws:dynamodb:us-east-1:000000000000:table/shop-users",
		"arn:aws:dynamodb:us-east-1:000000000000:table/shop-users/index/*",
	}
	if !slices.Equal(ddb.Resource, wantTable) {
		t.Errorf("dynamodb resources %v, want its own table and indexes %v", ddb.Resource, wantTable)
	}
	for _, s := range got.Statement {
		if s.Effect != "Allow" {
			t.Errorf("statement effect %q", s.Effect)
		}
		for _, r := range s.Resource {
			if r == "*" {
				t.Errorf("wildcard resource in %v", s)
			}
		}
	}
}

func TestFunctionPolicyWithoutTableAccess(t *testing.T) {
	fn := &manifest.Function{Name: "platform-ping", Service: "platform"}
	doc := functionPolicy("us-east-1", "000000000000", "shop", fn)
	if len(doc.Statement) != 1 {
		t.Fatalf("%d statements, want logs only for a function without dynamodb permissions", len(doc.Statement))
	}
}

func TestLambdaArchitecture(t *testing.T) {
	for goarch, want := range map[string]ltypes.Architecture{"amd64": ltypes.ArchitectureX8664, "arm64": ltypes.ArchitectureArm64} {
		got, err := lambdaArchitecture(goarch)
		if err != nil || got != want {
			t.Errorf("lambdaArchitecture(%q) = %q, %v; want %q", goarch, got, err, want)
		}
	}
	if _, err := lambdaArchitecture("386"); err == nil {
		t.Error("lambdaArchitecture(386) accepted an architecture Lambda does not run")
	}
}

func TestFunctionPolicyTokensAndBreakers(t *testing.T) {
	fn := &manifest.Function{Name: "users-login", Service: "users", Permissions: manifest.Permissions{
		SigningKey: true, PublicKeys: true, Breakers: true,
	}}
	doc := functionPolicy("us-east-1", "000000000000", "shop", fn)
	bySid := map[string]policyStatement{}
	for _, s := range doc.Statement {
		bySid[s.Sid] = s
	}
	tests := []struct {
		sid       string
		actions   []string
		resources []string
	}{
		{"ReadOwnSigningKeys", []string{"secretsmanager:GetSecretValue"}, []string{"arn:aws:secretsmanager:us-east-1:000000000000:secret:shop/signing/users-??????"}},
		{"ReadPublicKeys", []string{"ssm:GetParameter"}, []string{"arn:aws:ssm:us-east-1:000000000000:parameter/shop/jwks"}},
		{"SharedBreakers", []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}, []string{"arn:aws:dynamodb:us-east-1:000000000000:table/shop-platform"}},
	}
	for _, tt := range tests {
		s, ok := bySid[tt.sid]
		if !ok {
			t.Errorf("no %s statement in %s", tt.sid, mustJSON(doc))
			continue
		}
		if !slices.Equal(s.Action.([]string), tt.actions) || !slices.Equal(s.Resource.([]string), tt.resources) {
			t.Errorf("%s: %v on %v, want %v on %v", tt.sid, s.Action, s.Resource, tt.actions, tt.resources)
		}
	}
	cond := bySid["SharedBreakers"].Condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
	if !slices.Equal(cond, []string{"BREAKER#*"}) {
		t.Errorf("breakers condition %v, want the BREAKER#* items only", bySid["SharedBreakers"].Condition)
	}
	for _, sid := range []string{"ReadOwnSigningKeys", "ReadPublicKeys"} {
		if bySid[sid].Condition != nil {
			t.Errorf("%s has a condition: %v", sid, bySid[sid].Condition)
		}
	}

	// Each permission brings its own statement only.
	none := functionPolicy("us-east-1", "000000000000", "shop", &manifest.Function{Name: "users-get", Service: "users"})
	if len(none.Statement) != 1 || none.Statement[0].Sid != "OwnLogs" {
		t.Errorf("a function without permissions got %s", mustJSON(none))
	}
	verify := functionPolicy("us-east-1", "000000000000", "shop", &manifest.Function{Name: "platform-authorizer", Service: "platform", Permissions: manifest.Permissions{PublicKeys: true}})
	if len(verify.Statement) != 2 || verify.Statement[1].Sid != "ReadPublicKeys" {
		t.Errorf("the authorizer (publicKeys only) got %s", mustJSON(verify))
	}
}

func TestFunctionPolicyConditionSurvivesTheRoundTrip(t *testing.T) {
	fn := &manifest.Function{Name: "orders-create", Service: "orders", Permissions: manifest.Permissions{Breakers: true}}
	doc := mustJSON(functionPolicy("us-east-1", "000000000000", "shop", fn))
	if !samePolicy(url.QueryEscape(doc), doc) {
		t.Error("a policy with a condition does not compare equal to itself as IAM returns it")
	}
	if !strings.Contains(doc, `"Condition":{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["BREAKER#*"]}}`) {
		t.Errorf("condition not in the document: %s", doc)
	}
}

func TestFunctionEnvironmentSetsFaults(t *testing.T) {
	fn := &manifest.Function{Name: "users-get", Service: "users", Environment: manifest.Env{"LOG_LEVEL": "debug"},
		HTTP: &manifest.HTTPTrigger{Method: "GET", Path: "/v1/users/{id}", Auth: "user"}}
	got := functionEnvironment("shop", fn)
	want := manifest.Environment("shop", fn)
	want["SHOP_FAULTS"] = "1"
	if !maps.Equal(got, want) {
		t.Errorf("functionEnvironment = %v, want manifest.Environment plus SHOP_FAULTS=1: %v", got, want)
	}
	if got["SHOP_AUTH"] != "user" || got["SHOP_PREFIX"] != "shop" {
		t.Errorf("the manifest's wiring is missing: %v", got)
	}
}
