package deployment

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/shop-serverless/shop/shared/manifest"
)

var testParams = Params{Prefix: "shop", Region: "us-east-1", Account: "000000000000", Partition: "aws"}

func bySid(p Policy) map[string]Statement {
	out := map[string]Statement{}
	for _, s := range p.Statement {
		out[s.Sid] = s
	}
	return out
}

func TestFunctionPolicyIsLeastPrivilege(t *testing.T) {
	fn := &manifest.Function{Name: "users-get", Service: "users", Permissions: manifest.Permissions{DynamoDB: []string{"Query", "GetItem"}}}
	doc := functionPolicy(testParams, fn)
	sids := make([]string, 0, len(doc.Statement))
	for _, s := range doc.Statement {
		sids = append(sids, s.Sid)
	}
	if want := []string{"WriteOwnLogs", "WriteTraces", "OwnTable"}; !slices.Equal(sids, want) {
		t.Fatalf("statements %v, want %v", sids, want)
	}
	st := bySid(doc)
	logs := st["WriteOwnLogs"]
	if want := []string{"logs:CreateLogStream", "logs:PutLogEvents"}; !slices.Equal(logs.Action, want) {
		t.Errorf("logs actions %v, want %v: the deployment creates the group, the function never does", logs.Action, want)
	}
	if want := []string{"arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/shop-users-get:*"}; !slices.Equal(logs.Resource, want) {
		t.Errorf("logs resources %v, want only its own log group's streams %v", logs.Resource, want)
	}
	ddb := st["OwnTable"]
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
	for _, s := range doc.Statement {
		if s.Effect != "Allow" {
			t.Errorf("statement %s: effect %q", s.Sid, s.Effect)
		}
		if s.Sid == "WriteTraces" {
			// X-Ray's two write actions take no resource but "*".
			if !slices.Equal(s.Resource, []string{"*"}) || !slices.Equal(s.Action, []string{"xray:PutTelemetryRecords", "xray:PutTraceSegments"}) {
				t.Errorf("WriteTraces: %v on %v, want the two X-Ray writes on *", s.Action, s.Resource)
			}
			continue
		}
		for _, r := range s.Resource {
			if strings.Contains(r, "*") && !strings.HasSuffix(r, ":*") && !strings.HasSuffix(r, "/index/*") {
				t.Errorf("statement %s: wildcard resource %s", s.Sid, r)
			}
		}
	}
}

func TestFunctionPolicyWithoutTableAccess(t *testing.T) {
	doc := functionPolicy(testParams, &manifest.Function{Name: "platform-ping", Service: "platform"})
	if len(doc.Statement) != 2 {
		t.Fatalf("%d statements, want logs and traces only for a function without permissions: %s", len(doc.Statement), mustMarshal(t, doc))
	}
}

func TestFunctionPolicyTokensAndBreakers(t *testing.T) {
	fn := &manifest.Function{Name: "users-login", Service: "users", Permissions: manifest.Permissions{
		SigningKey: true, PublicKeys: true, Breakers: true,
	}}
	doc := functionPolicy(testParams, fn)
	st := bySid(doc)
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
		s, ok := st[tt.sid]
		if !ok {
			t.Errorf("no %s statement in %s", tt.sid, mustMarshal(t, doc))
			continue
		}
		if !slices.Equal(s.Action, tt.actions) || !slices.Equal(s.Resource, tt.resources) {
			t.Errorf("%s: %v on %v, want %v on %v", tt.sid, s.Action, s.Resource, tt.actions, tt.resources)
		}
	}
	cond := st["SharedBreakers"].Condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
	if !slices.Equal(cond, []string{"BREAKER#*"}) {
		t.Errorf("breakers condition %v, want the BREAKER#* items only", st["SharedBreakers"].Condition)
	}
	for _, sid := range []string{"ReadOwnSigningKeys", "ReadPublicKeys"} {
		if st[sid].Condition != nil {
			t.Errorf("%s has a condition: %v", sid, st[sid].Condition)
		}
	}

	// Each permission brings its own statement only.
	verify := functionPolicy(testParams, &manifest.Function{Name: "platform-authorizer", Service: "platform", Permissions: manifest.Permissions{PublicKeys: true}})
	if len(verify.Statement) != 3 || verify.Statement[2].Sid != "ReadPublicKeys" {
		t.Errorf("the authorizer (publicKeys only) got %s", mustMarshal(t, verify))
	}
}

func TestFunctionPolicyConditionIsInTheDocument(t *testing.T) {
	fn := &manifest.Function{Name: "orders-create", Service: "orders", Permissions: manifest.Permissions{Breakers: true}}
	doc := mustMarshal(t, functionPolicy(testParams, fn))
	if !strings.Contains(doc, `"Condition":{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["BREAKER#*"]}}`) {
		t.Errorf("condition not in the document: %s", doc)
	}
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
