package leastprivilege

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/shop-serverless/shop/shared/awscalls"
	"github.com/shop-serverless/shop/shared/deployment/deploymenttest"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/tests/iampolicy"
)

// fakeResolver knows one secret and the tables' partition keys.
type fakeResolver struct{}

func (fakeResolver) SecretARN(_ context.Context, id string) (string, error) {
	if id == "shop/signing/users" {
		return "arn:aws:secretsmanager:us-east-1:000000000000:secret:shop/signing/users-AbC123", nil
	}
	return "", errors.New("ResourceNotFoundException")
}

func (fakeResolver) PartitionKey(_ context.Context, table string) (string, error) {
	switch table {
	case "shop-users", "shop-platform":
		return "pk", nil
	}
	return "", errors.New("ResourceNotFoundException")
}

// loginPolicy is what the deployment model grants a login with the given
// table actions, its signing key and the shared breakers.
func loginPolicy(t *testing.T, actions ...string) iampolicy.Policy {
	t.Helper()
	doc := deploymenttest.FunctionPolicy(t, "users", "users-login", manifest.Permissions{DynamoDB: actions, SigningKey: true, Breakers: true})
	p, err := iampolicy.Parse("shop-users-login", doc)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const loginARN = "arn:aws:lambda:us-east-1:000000000000:function:shop-users-login"

func call(op string, needs ...awscalls.Need) awscalls.Call {
	svc, _, _ := strings.Cut(needs[0].Action, ":")
	return awscalls.Call{Service: svc, Operation: op, Region: "us-east-1", Status: 200, Needs: needs}
}

func need(action, resource string, keys ...map[string]string) awscalls.Need {
	return awscalls.Need{Action: action, Resource: resource, Keys: keys}
}

func key(pk string) map[string]string { return map[string]string{"pk": pk, "sk": "X"} }

func TestCheck(t *testing.T) {
	batchGet := call("BatchGetItem", need("dynamodb:BatchGetItem", "table/shop-users", key("EMAIL#a"), key("LOGIN#a")))
	update := call("UpdateItem", need("dynamodb:UpdateItem", "table/shop-users", key("LOGIN#a")))
	secret := call("GetSecretValue", need("secretsmanager:GetSecretValue", "secret:shop/signing/users"))
	breaker := call("GetItem", need("dynamodb:GetItem", "table/shop-platform", key("BREAKER#users")))
	fault := call("GetItem", need("dynamodb:GetItem", "table/shop-users", key("FAULT#users-login")))
	fault.LocalOnly = "faults"

	tests := []struct {
		name    string
		actions []string
		calls   []awscalls.Call
		denied  []string // "action resource count | reason substring"
		unused  []string // "sid action"
		checked int
	}{
		{
			name:    "every call granted",
			actions: []string{"BatchGetItem", "UpdateItem"},
			calls:   []awscalls.Call{batchGet, update, update, secret, breaker, fault},
			unused:  []string{"SharedBreakers dynamodb:PutItem", "SharedBreakers dynamodb:UpdateItem"},
			checked: 5,
		},
		{
			name:    "login as deployed before the fix: BatchGetItem denied, each time counted once per kind",
			actions: []string{"GetItem", "UpdateItem", "DeleteItem"},
			calls:   []awscalls.Call{batchGet, batchGet, update},
			denied:  []string{"dynamodb:BatchGetItem arn:aws:dynamodb:us-east-1:000000000000:table/shop-users 2 | no statement allows it"},
			unused: []string{"OwnTable dynamodb:DeleteItem", "OwnTable dynamodb:GetItem", "ReadOwnSigningKeys secretsmanager:GetSecretValue",
				"SharedBreakers dynamodb:GetItem", "SharedBreakers dynamodb:PutItem", "SharedBreakers dynamodb:UpdateItem"},
			checked: 3,
		},
		{
			name:    "a platform item that is not a breaker",
			actions: []string{"UpdateItem"},
			calls:   []awscalls.Call{call("PutItem", need("dynamodb:PutItem", "table/shop-platform", key("SIGNING#x")))},
			denied:  []string{"dynamodb:PutItem arn:aws:dynamodb:us-east-1:000000000000:table/shop-platform 1 | condition does not hold"},
			checked: 1,
		},
		{
			name:    "a breaker item whose key lacks the partition key attribute fails closed",
			actions: []string{"UpdateItem"},
			calls:   []awscalls.Call{call("GetItem", need("dynamodb:GetItem", "table/shop-platform", map[string]string{"id": "BREAKER#x"}))},
			denied:  []string{"dynamodb:GetItem arn:aws:dynamodb:us-east-1:000000000000:table/shop-platform 1 | not known"},
			checked: 1,
		},
		{
			name:    "an index: granted without a condition",
			actions: []string{"Query"},
			calls:   []awscalls.Call{call("Query", need("dynamodb:Query", "table/shop-users/index/gsi1", map[string]string{"gsi1pk": "P"}))},
			checked: 1,
		},
		{
			name:    "a secret that does not exist cannot be resolved",
			actions: []string{"UpdateItem"},
			calls:   []awscalls.Call{call("GetSecretValue", need("secretsmanager:GetSecretValue", "secret:shop/signing/orders"))},
			denied:  []string{"secretsmanager:GetSecretValue secret:shop/signing/orders 1 | no ARN"},
			checked: 1,
		},
		{
			name:    "a secret of another issuer",
			actions: []string{"UpdateItem"},
			calls:   []awscalls.Call{call("GetSecretValue", need("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:000000000000:secret:shop/signing/operator-XyZ789"))},
			denied:  []string{"secretsmanager:GetSecretValue arn:aws:secretsmanager:us-east-1:000000000000:secret:shop/signing/operator-XyZ789 1 | no statement allows it"},
			checked: 1,
		},
		{
			name:    "a call the recorder could not describe",
			actions: []string{"UpdateItem"},
			calls:   []awscalls.Call{{Service: "lambda", Status: 200, Problem: "no X-Amz-Target header"}},
			denied:  []string{"lambda: - 1 | cannot be checked: no X-Amz-Target"},
			checked: 1,
		},
		{
			name:    "a transaction's items each need their own grant",
			actions: []string{"PutItem"},
			calls: []awscalls.Call{call("TransactWriteItems",
				need("dynamodb:PutItem", "table/shop-users", key("USER#1")),
				need("dynamodb:DeleteItem", "table/shop-users", key("EMAIL#a")))},
			denied:  []string{"dynamodb:DeleteItem arn:aws:dynamodb:us-east-1:000000000000:table/shop-users 1 | no statement allows it"},
			checked: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := Function{Name: "shop-users-login", ARN: loginARN, Recording: true, Policies: []iampolicy.Policy{loginPolicy(t, tt.actions...)}, Calls: tt.calls}
			rep := Check(t.Context(), []Function{fn}, fakeResolver{})
			if rep.Checked != tt.checked {
				t.Errorf("checked %d calls, want %d", rep.Checked, tt.checked)
			}
			if len(rep.Denied) != len(tt.denied) {
				t.Fatalf("denied %+v, want %v", rep.Denied, tt.denied)
			}
			for i, want := range tt.denied {
				f := rep.Denied[i]
				head, reason, _ := strings.Cut(want, " | ")
				got := strings.Join([]string{f.Action, dash(f.Resource), strconv.Itoa(f.Count)}, " ")
				if got != head || !strings.Contains(f.Reason, reason) {
					t.Errorf("denied %q (%s), want %q (with %q)", got, f.Reason, head, reason)
				}
			}
			if rep.Failed() != (len(tt.denied) > 0) {
				t.Errorf("Failed() = %v with %d denied", rep.Failed(), len(rep.Denied))
			}
			if tt.unused != nil {
				var got []string
				for _, u := range rep.Unused {
					got = append(got, u.Sid+" "+u.Action)
				}
				if !reflect.DeepEqual(got, tt.unused) {
					t.Errorf("unused %v, want %v", got, tt.unused)
				}
			}
		})
	}
}

func TestCheckFailsForFunctionsItCannotProve(t *testing.T) {
	fns := []Function{
		{Name: "shop-missing", Err: errors.New("not deployed: ResourceNotFoundException")},
		{Name: "shop-unrecorded", ARN: loginARN, Recording: false, Policies: []iampolicy.Policy{loginPolicy(t, "GetItem")}},
		{Name: "shop-idle", ARN: loginARN, Recording: true, Policies: []iampolicy.Policy{loginPolicy(t, "GetItem")}},
	}
	rep := Check(t.Context(), fns, fakeResolver{})
	if len(rep.Denied) != 2 || rep.Denied[0].Function != "shop-missing" || rep.Denied[1].Function != "shop-unrecorded" ||
		!strings.Contains(rep.Denied[1].Reason, awscalls.EnvSwitch) {
		t.Errorf("denied %+v, want the missing and the unrecorded function", rep.Denied)
	}
	if !reflect.DeepEqual(rep.NoCalls, []string{"shop-idle"}) {
		t.Errorf("no calls: %v, want shop-idle", rep.NoCalls)
	}
}

func TestReportPrintsVerdictDenialsAndUnusedGrants(t *testing.T) {
	fault := call("GetItem", need("dynamodb:GetItem", "table/shop-users", key("FAULT#users-login")))
	fault.LocalOnly = "faults"
	fn := Function{Name: "shop-users-login", ARN: loginARN, Recording: true, Policies: []iampolicy.Policy{loginPolicy(t, "GetItem")},
		Calls: []awscalls.Call{call("PutItem", need("dynamodb:PutItem", "table/shop-users", key("LOGIN#a"))), fault}}
	var out bytes.Buffer
	Check(t.Context(), []Function{fn}, fakeResolver{}).Write(&out)
	for _, want := range []string{
		"least privilege: 1 functions, 1 AWS calls (since each was deployed) and 0 event source mappings checked against their roles' policies: 1 kinds of call NOT ALLOWED",
		"not checked: 1 calls of local test machinery (faults)",
		"shop-users-login  dynamodb:PutItem  arn:aws:dynamodb:us-east-1:000000000000:table/shop-users  1      PutItem    no statement allows it",
		"shop-users-login  dynamodb:GetItem               table/shop-users, table/shop-users/index/*",
		"ReadOwnSigningKeys",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, &out)
		}
	}
	if strings.Contains(out.String(), "logs:PutLogEvents") || strings.Contains(out.String(), "xray:") {
		t.Errorf("the report lists the logs or X-Ray actions Lambda itself uses:\n%s", &out)
	}
}

// Lambda reads a mapping's source and writes its on-failure destination
// with the function's role: the model's relay and consumer policies allow
// exactly that (their grants count as used), and a mapping the role does
// not cover is denied.
func TestCheckMappings(t *testing.T) {
	relayDoc, consumerDoc := deploymenttest.EventPolicies(t)
	parse := func(name, doc string) []iampolicy.Policy {
		p, err := iampolicy.Parse(name, doc)
		if err != nil {
			t.Fatal(err)
		}
		return []iampolicy.Policy{p}
	}
	stream := "arn:aws:dynamodb:us-east-1:000000000000:table/shop-orders/stream/2026-01-01T00:00:00.000"
	dlq := "arn:aws:sqs:us-east-1:000000000000:shop-orders-relay-dlq"
	queue := "arn:aws:sqs:us-east-1:000000000000:shop-notifications-notify"
	relay := Function{Name: "shop-orders-relay", ARN: "arn:aws:lambda:us-east-1:000000000000:function:shop-orders-relay", Recording: true,
		Policies: parse("relay", relayDoc), Mappings: []Mapping{{Source: stream, OnFailure: dlq}},
		Calls: []awscalls.Call{call("PutEvents", need("events:PutEvents", "event-bus/shop-events"))}}
	consumer := Function{Name: "shop-notifications-notify", ARN: "arn:aws:lambda:us-east-1:000000000000:function:shop-notifications-notify", Recording: true,
		Policies: parse("consumer", consumerDoc), Mappings: []Mapping{{Source: queue}},
		Calls: []awscalls.Call{
			call("PutItem", need("dynamodb:PutItem", "table/shop-notifications", key("NOTE#1"))),
			call("ChangeMessageVisibility", need("sqs:ChangeMessageVisibility", "shop-notifications-notify")),
		}}
	rep := Check(t.Context(), []Function{relay, consumer}, fakeResolver{})
	if len(rep.Denied) != 0 || rep.Mappings != 2 {
		t.Fatalf("denied %+v, %d mappings checked; want none denied of 2", rep.Denied, rep.Mappings)
	}
	if len(rep.Unused) != 0 {
		t.Errorf("unused %+v: the mappings' and the calls' grants are all the roles hold", rep.Unused)
	}

	// Another table's stream, a queue the relay may not send to, and a
	// consumer reading another consumer's queue.
	relay.Mappings = []Mapping{{Source: "arn:aws:dynamodb:us-east-1:000000000000:table/shop-users/stream/x", OnFailure: queue}}
	consumer.Mappings = []Mapping{{Source: "arn:aws:sqs:us-east-1:000000000000:shop-orders-user-updated"}, {Source: "arn:aws:kinesis:us-east-1:000000000000:stream/k"}}
	rep = Check(t.Context(), []Function{relay, consumer}, fakeResolver{})
	var got []string
	for _, f := range rep.Denied {
		if f.Operation != mappingOperation {
			t.Errorf("finding %+v is not the mapping's", f)
		}
		got = append(got, f.Function+" "+dash(f.Action))
	}
	want := []string{
		"shop-notifications-notify -",
		"shop-notifications-notify sqs:DeleteMessage", "shop-notifications-notify sqs:GetQueueAttributes", "shop-notifications-notify sqs:ReceiveMessage",
		"shop-orders-relay dynamodb:DescribeStream", "shop-orders-relay dynamodb:GetRecords", "shop-orders-relay dynamodb:GetShardIterator",
		"shop-orders-relay dynamodb:ListStreams", "shop-orders-relay sqs:SendMessage",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("denied %v, want %v", got, want)
	}
}
