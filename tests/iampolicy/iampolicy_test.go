package iampolicy

import (
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/shop-serverless/shop/shared/deployment/deploymenttest"
	"github.com/shop-serverless/shop/shared/manifest"
)

const (
	usersTable = "arn:aws:dynamodb:us-east-1:000000000000:table/shop-users"
	platform   = "arn:aws:dynamodb:us-east-1:000000000000:table/shop-platform"
	secret     = "arn:aws:secretsmanager:us-east-1:000000000000:secret:shop/signing/users-AbC123"
	logGroup   = "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/shop-users-login"
)

// loginPolicy is what the deployment model grants a function of users
// that reads and updates its table, signs with its own key and keeps
// shared breakers.
func loginPolicy(t *testing.T) Policy {
	t.Helper()
	doc := deploymenttest.FunctionPolicy(t, "users", "users-login", manifest.Permissions{
		DynamoDB: []string{"GetItem", "UpdateItem"}, SigningKey: true, Breakers: true,
	})
	p, err := Parse("shop-users-login", doc)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func leading(keys ...string) map[string][]string {
	return map[string][]string{"dynamodb:LeadingKeys": keys}
}

func TestEvaluateTheModelsPolicy(t *testing.T) {
	p := loginPolicy(t)
	tests := []struct {
		name    string
		req     Request
		allowed bool
		reason  string // a substring of the reason when denied
		grants  []string
	}{
		{"an action of its own table", Request{Action: "dynamodb:GetItem", Resource: usersTable, Context: leading("USER#1")}, true, "", []string{"OwnTable dynamodb:GetItem"}},
		{"actions compare without case", Request{Action: "DynamoDB:updateitem", Resource: usersTable}, true, "", []string{"OwnTable dynamodb:UpdateItem"}},
		{"an index of its own table", Request{Action: "dynamodb:GetItem", Resource: usersTable + "/index/gsi1"}, true, "", []string{"OwnTable dynamodb:GetItem"}},
		{"an action not granted", Request{Action: "dynamodb:BatchGetItem", Resource: usersTable}, false, "no statement allows it", nil},
		{"another table", Request{Action: "dynamodb:GetItem", Resource: "arn:aws:dynamodb:us-east-1:000000000000:table/shop-orders"}, false, "no statement allows it", nil},
		{"a table whose name starts with its own", Request{Action: "dynamodb:GetItem", Resource: usersTable + "-archive"}, false, "no statement allows it", nil},
		{"another account", Request{Action: "dynamodb:GetItem", Resource: strings.Replace(usersTable, "000000000000", "111111111111", 1)}, false, "", nil},
		{"its secret, six-character suffix", Request{Action: "secretsmanager:GetSecretValue", Resource: secret}, true, "", []string{"ReadOwnSigningKeys secretsmanager:GetSecretValue"}},
		{"a secret named like its own plus more", Request{Action: "secretsmanager:GetSecretValue", Resource: "arn:aws:secretsmanager:us-east-1:000000000000:secret:shop/signing/users-other-AbC123"}, false, "", nil},
		{"a suffix one character short", Request{Action: "secretsmanager:GetSecretValue", Resource: "arn:aws:secretsmanager:us-east-1:000000000000:secret:shop/signing/users-AbC12"}, false, "", nil},
		{"breaker items", Request{Action: "dynamodb:PutItem", Resource: platform, Context: leading("BREAKER#users")}, true, "", []string{"SharedBreakers dynamodb:PutItem"}},
		{"a breaker and another item at once", Request{Action: "dynamodb:GetItem", Resource: platform, Context: leading("BREAKER#users", "SIGNING#users")}, false, "condition does not hold", nil},
		{"another platform item", Request{Action: "dynamodb:UpdateItem", Resource: platform, Context: leading("KEYS#x")}, false, "condition does not hold", nil},
		{"leading keys unknown: fail closed", Request{Action: "dynamodb:GetItem", Resource: platform, Unknown: []string{"dynamodb:LeadingKeys"}}, false, "not known", nil},
		{"leading keys absent: ForAllValues holds, as in IAM", Request{Action: "dynamodb:GetItem", Resource: platform}, true, "", []string{"SharedBreakers dynamodb:GetItem"}},
		{"an action of another service", Request{Action: "ssm:GetParameter", Resource: "arn:aws:ssm:us-east-1:000000000000:parameter/shop/jwks"}, false, "", nil},
		{"an empty action", Request{Action: "", Resource: usersTable}, false, "", nil},
		{"its own log group's streams", Request{Action: "logs:PutLogEvents", Resource: logGroup + ":log-stream:2026/01/01/x"}, true, "", []string{"WriteOwnLogs logs:PutLogEvents"}},
		{"creating its log group: the deployment does that", Request{Action: "logs:CreateLogGroup", Resource: logGroup}, false, "no statement allows it", nil},
		{"another function's log group", Request{Action: "logs:PutLogEvents", Resource: strings.Replace(logGroup, "users-login", "users-get", 1) + ":log-stream:x"}, false, "no statement allows it", nil},
		{"traces", Request{Action: "xray:PutTraceSegments", Resource: "*"}, true, "", []string{"WriteTraces xray:PutTraceSegments"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Evaluate([]Policy{p}, tt.req)
			if d.Allowed != tt.allowed || !strings.Contains(d.Reason, tt.reason) {
				t.Fatalf("Evaluate = %+v, want allowed %v (reason with %q)", d, tt.allowed, tt.reason)
			}
			var grants []string
			for _, g := range d.Grants {
				grants = append(grants, g.Sid+" "+g.Action)
			}
			if !reflect.DeepEqual(grants, tt.grants) {
				t.Errorf("grants %v, want %v", grants, tt.grants)
			}
		})
	}
}

func mustParse(t *testing.T, doc string) Policy {
	t.Helper()
	p, err := Parse("p", doc)
	if err != nil {
		t.Fatalf("Parse(%s): %v", doc, err)
	}
	return p
}

func TestEvaluateEffectsWildcardsAndConditions(t *testing.T) {
	const allowAllDynamo = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"}}`
	tests := []struct {
		name     string
		policies []string
		req      Request
		allowed  bool
		reason   string
	}{
		{"nothing allows: implicit deny", []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`},
			Request{Action: "dynamodb:GetItem", Resource: usersTable}, false, "no statement allows it"},
		{"* in an action", []string{allowAllDynamo}, Request{Action: "dynamodb:DeleteItem", Resource: usersTable}, true, ""},
		{"* does not cross into another service", []string{allowAllDynamo}, Request{Action: "dynamodbx:GetItem", Resource: usersTable}, false, ""},
		{"? in an action", []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:?etItem","Resource":"*"}}`},
			Request{Action: "dynamodb:GetItem", Resource: usersTable}, true, ""},
		{"* in a resource spans : and /", []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"arn:aws:dynamodb:*:table/*"}}`},
			Request{Action: "dynamodb:GetItem", Resource: usersTable + "/index/a"}, true, ""},
		{"resources compare with case", []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"arn:aws:dynamodb:us-east-1:000000000000:table/Shop-Users"}}`},
			Request{Action: "dynamodb:GetItem", Resource: usersTable}, false, ""},
		{"an explicit Deny wins over an Allow in another policy", []string{allowAllDynamo,
			`{"Version":"2012-10-17","Statement":{"Sid":"NoDeletes","Effect":"Deny","Action":"dynamodb:DeleteItem","Resource":"*"}}`},
			Request{Action: "dynamodb:DeleteItem", Resource: usersTable}, false, "NoDeletes denies it"},
		{"a Deny for something else changes nothing", []string{allowAllDynamo,
			`{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"dynamodb:DeleteItem","Resource":"*"}}`},
			Request{Action: "dynamodb:GetItem", Resource: usersTable}, true, ""},
		{"a Deny whose condition holds", []string{allowAllDynamo,
			`{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"dynamodb:*","Resource":"*","Condition":{"ForAnyValue:StringLike":{"dynamodb:LeadingKeys":["SECRET#*"]}}}}`},
			Request{Action: "dynamodb:GetItem", Resource: usersTable, Context: leading("A", "SECRET#1")}, false, "denies it"},
		{"a Deny whose condition does not hold", []string{allowAllDynamo,
			`{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"dynamodb:*","Resource":"*","Condition":{"ForAnyValue:StringLike":{"dynamodb:LeadingKeys":["SECRET#*"]}}}}`},
			Request{Action: "dynamodb:GetItem", Resource: usersTable, Context: leading("A", "B")}, true, ""},
		{"a Deny with a condition not understood denies (fail closed)", []string{allowAllDynamo,
			`{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"dynamodb:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}`},
			Request{Action: "dynamodb:GetItem", Resource: usersTable}, false, "failing closed"},
		{"an Allow with an operator not understood allows nothing", []string{
			`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*","Condition":{"StringLikeIfExists":{"dynamodb:LeadingKeys":"*"}}}}`},
			Request{Action: "dynamodb:GetItem", Resource: usersTable}, false, "not understood"},
		{"an Allow with a key not understood allows nothing", []string{
			`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"shop"}}}}`},
			Request{Action: "dynamodb:GetItem", Resource: usersTable}, false, "not understood"},
		{"StringEquals is exact", []string{
			`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*","Condition":{"StringEquals":{"dynamodb:LeadingKeys":"A*"}}}}`},
			Request{Action: "dynamodb:GetItem", Resource: usersTable, Context: leading("AB")}, false, "does not hold"},
		{"a single-valued operator on one value", []string{
			`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*","Condition":{"StringLike":{"dynamodb:LeadingKeys":["X","A?"]}}}}`},
			Request{Action: "dynamodb:GetItem", Resource: usersTable, Context: leading("AB")}, true, ""},
		{"a single-valued operator on an absent key does not hold", []string{
			`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*","Condition":{"StringLike":{"dynamodb:LeadingKeys":"*"}}}}`},
			Request{Action: "dynamodb:Scan", Resource: usersTable}, false, "does not hold"},
		{"a single-valued operator on several values fails closed", []string{
			`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*","Condition":{"StringLike":{"dynamodb:LeadingKeys":"*"}}}}`},
			Request{Action: "dynamodb:BatchGetItem", Resource: usersTable, Context: leading("A", "B")}, false, "compares one"},
		{"ForAnyValue on an absent key does not hold", []string{
			`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*","Condition":{"ForAnyValue:StringLike":{"dynamodb:LeadingKeys":"*"}}}}`},
			Request{Action: "dynamodb:Scan", Resource: usersTable}, false, "does not hold"},
		{"condition keys compare without case", []string{
			`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"DynamoDB:leadingKeys":"A"}}}}`},
			Request{Action: "dynamodb:GetItem", Resource: usersTable, Context: map[string][]string{"dynamodb:LEADINGKEYS": {"B"}}}, false, "does not hold"},
		{"every condition must hold", []string{
			`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*","Condition":{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":"A*"},"ForAnyValue:StringEquals":{"dynamodb:LeadingKeys":"AZ"}}}}`},
			Request{Action: "dynamodb:GetItem", Resource: usersTable, Context: leading("AB")}, false, "does not hold"},
		{"URL-encoded as IAM returns it", []string{url.QueryEscape(allowAllDynamo)}, Request{Action: "dynamodb:GetItem", Resource: usersTable}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ps []Policy
			for _, doc := range tt.policies {
				ps = append(ps, mustParse(t, doc))
			}
			d := Evaluate(ps, tt.req)
			if d.Allowed != tt.allowed || !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("Evaluate = %+v, want allowed %v (reason with %q)", d, tt.allowed, tt.reason)
			}
		})
	}
}

func TestParseRefusesWhatItCannotEvaluate(t *testing.T) {
	tests := []struct{ name, doc, err string }{
		{"NotAction", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}`, "NotAction is not supported"},
		{"NotResource", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::x"}]}`, "NotResource is not supported"},
		{"a Principal", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}`, "resource policy"},
		{"policy variables in a resource", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/*"}]}`, "policy variables"},
		{"policy variables in a condition", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":"${aws:userid}"}}}]}`, "policy variables"},
		{"an unknown field", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Actions":"x"}]}`, "unknown field"},
		{"an unknown top-level field", `{"Version":"2012-10-17","Statement":[],"Extra":1}`, "unknown field"},
		{"no Resource", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}`, "Action and a Resource"},
		{"an effect in lower case", `{"Version":"2012-10-17","Statement":[{"Effect":"allow","Action":"s3:*","Resource":"*"}]}`, "effect"},
		{"no version", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`, "version"},
		{"no statements", `{"Version":"2012-10-17","Statement":[]}`, "no statements"},
		{"an action that is neither string nor list", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":7,"Resource":"*"}]}`, "Action"},
		{"a condition value that is an object", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"k":{"a":1}}}}]}`, "not a string"},
		{"not JSON", `%zz`, "neither JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p", tt.doc)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Parse error %v, want one with %q", err, tt.err)
			}
		})
	}
}

func TestParseReadsValuesAsIAMDoes(t *testing.T) {
	p := mustParse(t, `{"Version":"2008-10-17","Id":"x","Statement":{"Sid":"S","Effect":"Allow","Action":"a:b","Resource":["r1","r2"],`+
		`"Condition":{"StringEquals":{"k1":true,"k2":[1.5,"x"]}}}}`)
	want := Statement{Sid: "S", Effect: "Allow", Actions: []string{"a:b"}, Resources: []string{"r1", "r2"}, Conditions: []Condition{
		{Operator: "StringEquals", Key: "k1", Values: []string{"true"}},
		{Operator: "StringEquals", Key: "k2", Values: []string{"1.5", "x"}},
	}}
	if len(p.Statements) != 1 || !reflect.DeepEqual(p.Statements[0], want) {
		t.Errorf("parsed %+v, want %+v", p.Statements, want)
	}
}

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything:at/all", true},
		{"a*", "a", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbcd", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxcyyb", false},
		{"*-??????", "shop/signing/users-AbC123", true},
		{"*-??????", "shop/signing/users-AbC12", false},
		{"*-??????", "shop/signing/users-AbC1234", false},
		{"*-??????", "a-b-AbC123", true},
		{"users-??????", "users-AbC1234", false},
		{"?", "é", true},
		{"BREAKER#*", "BREAKER#", true},
		{"BREAKER#*", "breaker#x", false},
		{"a**b", "ab", true},
		{"*a", "bbbba", true},
	}
	for _, tt := range tests {
		if got := wildcardMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}
