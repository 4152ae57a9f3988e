package livediff

import (
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestPolicyComparesByMeaning(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[
		{"Sid":"OwnTable","Effect":"Allow","Action":["dynamodb:PutItem","dynamodb:GetItem"],"Resource":["arn:t","arn:t/index/*"]},
		{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"},
		{"Sid":"Breakers","Effect":"Allow","Action":"dynamodb:GetItem","Resource":"arn:p",
		 "Condition":{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":"BREAKER#*"}}}]}`
	// The same policy as IAM may hand it back: URL-encoded, keys and
	// statements reordered, lists for single values and the other way round,
	// a duplicate action.
	same := `{"Statement":[
		{"Resource":"arn:p","Action":["dynamodb:GetItem"],"Effect":"Allow","Sid":"Breakers",
		 "Condition":{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["BREAKER#*"]}}},
		{"Action":["sts:AssumeRole"],"Principal":{"Service":["lambda.amazonaws.com"]},"Effect":"Allow"},
		{"Resource":["arn:t/index/*","arn:t"],"Effect":"Allow","Sid":"OwnTable","Action":["dynamodb:GetItem","dynamodb:PutItem","dynamodb:GetItem"]}],
		"Version":"2012-10-17"}`
	a, err := parsePolicy(doc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := parsePolicy(url.PathEscape(same))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("same meaning, different policies:\n%v\n%v", a, b)
	}
	if len(a.Statements) != 3 || a.Statements["sid OwnTable"] == "" || a.Statements["sid Breakers"] == "" {
		t.Errorf("statements = %v, want OwnTable, Breakers and the one without a Sid", a.Statements)
	}

	// A "+" survives the URL decoding (IAM encodes per RFC 3986).
	plus, err := parsePolicy(url.PathEscape(`{"Statement":{"Sid":"S","Effect":"Allow","Action":"a:b","Resource":"arn:x+y"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plus.Statements["sid S"], "arn:x+y") {
		t.Errorf("statement = %q, want the resource arn:x+y", plus.Statements["sid S"])
	}

	// Another action is another policy.
	other, err := parsePolicy(strings.Replace(doc, `"dynamodb:PutItem"`, `"dynamodb:Scan"`, 1))
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a, other) {
		t.Error("policies with different actions compare equal")
	}
	// Two statements with one Sid both stay.
	dup, err := parsePolicy(`{"Statement":[{"Sid":"X","Action":"a:b"},{"Sid":"X","Action":"a:c"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(dup.Statements) != 2 || dup.Statements["sid X (2)"] == "" {
		t.Errorf("statements = %v, want sid X and sid X (2)", dup.Statements)
	}
}

func TestDiffNamesEveryDifferenceInOrder(t *testing.T) {
	base := func() *State {
		return &State{
			Prefix: "a",
			Tables: map[string]Table{"{prefix}-users": {KeySchema: "pk HASH", TTL: "ttl", Tags: map[string]string{"x": "1"}}},
			Functions: map[string]Function{
				"{prefix}-users-get": {
					MemoryMB:      128,
					Description:   "Read a user",
					Environment:   map[string]string{"A": "1", "B": "2"},
					Architectures: []string{"x86_64"},
					CodeSHA256:    "abc",
					Policy:        Policy{Statements: map[string]string{"sid S": "{}"}},
				},
			},
			APIs: map[string]API{"{prefix}-http": {
				Routes: map[string]Route{"GET /v1/users/{id}": {AuthorizationType: "CUSTOM", Authorizer: "{prefix}-authorizer"}},
			}},
		}
	}
	a, b := base(), base()
	if d := Diff(a, b); len(d) != 0 {
		t.Fatalf("Diff of equal states = %q", d)
	}

	b.Prefix = "b" // not compared
	fn := b.Functions["{prefix}-users-get"]
	fn.MemoryMB = 256
	fn.Description = ""
	fn.Environment = map[string]string{"A": "1", "C": "3"}
	fn.Architectures = []string{"arm64"} // ignored: the emulator runs the host's
	fn.CodeSHA256 = "def"                // ignored: zips differ by construction
	fn.Policy = Policy{Statements: map[string]string{"sid S": `{"x":1}`}}
	b.Functions["{prefix}-users-get"] = fn
	b.Tables["{prefix}-users"] = Table{KeySchema: "pk HASH", TTL: "off", Tags: map[string]string{"x": "2"}}
	b.Tables["{prefix}-orders"] = Table{}
	b.APIs["{prefix}-http"].Routes["GET /v1/users/{id}"] = Route{AuthorizationType: "NONE"}
	b.APIs["{prefix}-http"].Routes["GET /v1/x"] = Route{}

	want := []string{
		"table orders: only in b",
		"table users: ttl ttl vs off",
		`function users-get: description "Read a user" vs ""`,
		"function users-get: memory 128 vs 256",
		"function users-get: environment B: only in a",
		"function users-get: environment C: only in b",
		`function users-get: resource policy: statement sid S {} vs {"x":1}`,
		`api http: route GET /v1/users/{id}: authorization type CUSTOM vs NONE`,
		`api http: route GET /v1/users/{id}: authorizer {prefix}-authorizer vs ""`,
		"api http: route GET /v1/x: only in b",
	}
	if got := Diff(a, b); !slices.Equal(got, want) {
		t.Errorf("Diff =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The other way round, a and b swap.
	if got := Diff(b, a); !slices.Contains(got, "table orders: only in a") || !slices.Contains(got, "function users-get: memory 256 vs 128") {
		t.Errorf("Diff(b, a) = %q, want orders only in a and memory 256 vs 128", got)
	}
}
