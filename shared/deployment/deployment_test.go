package deployment

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
)

func load(t *testing.T) *manifest.Set {
	t.Helper()
	set, err := manifest.Load(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// Terraform substitutes the placeholders in the template's text before it
// decodes it (infra/main.tf): that must give exactly the model the deployer
// builds with the same values, route parameters such as {id} untouched.
func TestTemplateWithValuesSubstitutedIsTheModel(t *testing.T) {
	set := load(t)
	tmpl, err := Template(set)
	if err != nil {
		t.Fatal(err)
	}
	text, err := tmpl.JSON()
	if err != nil {
		t.Fatal(err)
	}
	p := Params{Prefix: "tf1", Region: "eu-west-1", Account: "123456789012", Partition: "aws-cn"}
	got := strings.NewReplacer(
		Placeholders.Prefix, p.Prefix, Placeholders.Region, p.Region,
		Placeholders.Account, p.Account, Placeholders.Partition, p.Partition,
		// Terraform's default when payment_provider_secret_name is null.
		Placeholders.PaymentProviderSecret, naming.PaymentProviderSecret(p.Prefix),
	).Replace(string(text))
	model, err := Build(set, p)
	if err != nil {
		t.Fatal(err)
	}
	want, err := model.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("substituted template differs from the model:\n%s", firstDiff(got, string(want)))
	}
	if !strings.Contains(got, "/v1/users/{id}") {
		t.Fatal("a route parameter was substituted away")
	}
}

// The API's description names the API, as Terraform always described it:
// the prefix then stands as a name part ("shop-api"), which is how the live
// diff (tests/livediff) recognises it in two stacks; "of shop:" would make
// every two stacks' descriptions differ.
func TestAPIDescriptionNamesTheAPI(t *testing.T) {
	d, err := Build(load(t), Params{Prefix: "shop", Region: "us-east-1", Account: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Public HTTP API of shop-api: one route per http function manifest."; d.API.Description != want {
		t.Errorf("API description %q, want %q", d.API.Description, want)
	}
}

func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return "line " + la[i] + "\nwant " + lb[i]
		}
	}
	return "lengths differ"
}

// Every ARN in a function's policy belongs to the stack (its prefix), in the
// stack's region and account, except X-Ray's "*", which takes no other.
func TestPoliciesNameOnlyTheStacksResources(t *testing.T) {
	p := Params{Prefix: "st", Region: "eu-west-1", Account: "123456789012"}
	d, err := Build(load(t), p)
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range d.Functions {
		for _, st := range fn.Role.Policy.Statement {
			for _, r := range st.Resource {
				if r == "*" && st.Sid == "WriteTraces" {
					continue
				}
				if !strings.HasPrefix(r, "arn:aws:") || !strings.Contains(r, ":eu-west-1:123456789012:") || !strings.Contains(r, "st-") && !strings.Contains(r, "/st/") {
					t.Errorf("%s: statement %s names %s, outside the stack", fn.Name, st.Sid, r)
				}
			}
		}
	}
}

// Protected routes go through the authorizer; open ones do not.
func TestRouteAuthorization(t *testing.T) {
	d, err := Build(load(t), Params{Prefix: "shop", Region: "us-east-1", Account: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	if d.API.Authorizer == nil {
		t.Fatal("no authorizer")
	}
	routes := d.Routes()
	if len(routes) == 0 {
		t.Fatal("no routes")
	}
	for _, fn := range routes {
		want := "CUSTOM"
		if fn.Route.Auth == manifest.AuthNone {
			want = "NONE"
		}
		if fn.Route.AuthorizationType != want {
			t.Errorf("%s (%s): authorization %s, want %s", fn.Name, fn.Route.Auth, fn.Route.AuthorizationType, want)
		}
	}
}

// A key attribute declared with two types is refused before any deploy.
func TestKeyAttributeWithTwoTypesIsRefused(t *testing.T) {
	root := t.TempDir()
	// The manifests, and the event catalog the services' publishes name.
	for _, dir := range []string{"functions", "events"} {
		if err := os.CopyFS(filepath.Join(root, dir), os.DirFS(filepath.Join("..", "..", dir))); err != nil {
			t.Fatal(err)
		}
	}
	svc := filepath.Join(root, "functions", "inventory", "service.yaml")
	b, err := os.ReadFile(svc)
	if err != nil {
		t.Fatal(err)
	}
	b2 := bytes.Replace(b, []byte("partitionKey: {name: gsi1pk, type: S}"), []byte("partitionKey: {name: sk, type: N}"), 1)
	if bytes.Equal(b, b2) {
		t.Fatal("inventory/service.yaml has no gsi1pk index key to change; update the test")
	}
	if err := os.WriteFile(svc, b2, 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := manifest.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build(set, Params{Prefix: "shop", Region: "us-east-1", Account: "000000000000"}); err == nil || !strings.Contains(err.Error(), "two types") {
		t.Fatalf("Build: %v, want a two-types error", err)
	}
}

// CloudWatch Logs refuses any retention but these (PutRetentionPolicy).
func TestLogRetentionIsOneCloudWatchAccepts(t *testing.T) {
	accepted := []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
	if days := DefaultSettings().LogRetentionDays; !slices.Contains(accepted, days) {
		t.Errorf("LogRetentionDays = %d, not one of %v", days, accepted)
	}
}

// The grants that let API Gateway invoke functions carry the model's
// statement ids, in the model Terraform reads too (infra/deployment.json),
// so both deployers write the same resource policies.
func TestInvokeGrantsCarryTheModelsStatementIDs(t *testing.T) {
	d, err := Build(load(t), Params{Prefix: "shop", Region: "us-east-1", Account: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range d.Routes() {
		if fn.Route.PermissionID != RoutePermissionID {
			t.Errorf("%s: route permission id %q, want %q", fn.Name, fn.Route.PermissionID, RoutePermissionID)
		}
	}
	if d.API.Authorizer == nil || d.API.Authorizer.PermissionID != AuthorizerPermissionID {
		t.Errorf("authorizer %+v: want permission id %q", d.API.Authorizer, AuthorizerPermissionID)
	}
	text, err := d.JSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{RoutePermissionID, AuthorizerPermissionID} {
		if !bytes.Contains(text, []byte(`"permissionId": "`+id+`"`)) {
			t.Errorf("the model's JSON does not carry permission id %s", id)
		}
	}
}

// The simulator's routes are under PaymentSimulatorPath, which is how the
// deployer and Terraform find its base URL.
func TestRepositorySimulatorRoutesUnderItsPath(t *testing.T) {
	d, err := Build(load(t), Params{Prefix: "shop", Region: "us-east-1", Account: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	if d.PaymentProvider == nil || len(d.PaymentProvider.Simulator) == 0 {
		t.Fatal("the repository has no payment provider, or no simulator of it (functions/provider)")
	}
	for _, name := range d.PaymentProvider.Simulator {
		fn := d.Function(name)
		if fn.Route == nil || !strings.HasPrefix(fn.Route.Path, PaymentSimulatorPath+"/") {
			t.Errorf("simulator function %s is not routed under %s", name, PaymentSimulatorPath)
		}
	}
}
