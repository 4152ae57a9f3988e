package main

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/shop-serverless/shop/shared/manifest"
)

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
