package main

import (
	"slices"
	"testing"

	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/naming"
)

// The variable pruning reads a function's stack from is the one the model
// sets to the prefix, in every function.
func TestPrefixVariableIsTheModels(t *testing.T) {
	model := testModel(t)
	for _, fn := range model.Functions {
		if got := fn.Environment[prefixVariable]; got != model.Prefix {
			t.Errorf("function %s: %s=%q, want the prefix %q", fn.FunctionName, prefixVariable, got, model.Prefix)
		}
	}
}

func TestPlanPrune(t *testing.T) {
	model := testModel(t) // prefix shop
	kept := model.Functions[0]
	scan := pruneScan{
		functions: []liveFunction{
			{kept.FunctionName, "shop"},
			{"shop-users-gone", "shop"},
			{"shop-b-users-gone", "shop"}, // its variable says ours, whatever its name looks like
			{"shop-b-users-get", "shop-b"},
			{"shop-b-users-old", "shop-b"},
			{"shop-users-handmade", ""},
			{"shop-users-foreign", "other"},
			{"workshop-users-get", "shop"},
			{"tf1a2b-users-get", "tf1a2b"},
		},
		roles: []string{
			kept.Role.Name,
			"shop-users-gone",   // its function is there: it goes with it
			"shop-users-half",   // its function is gone
			"shop-b-users-get",  // nested stack (a function's SHOP_PREFIX)
			"shop-b-users-half", // nested stack, its function gone too
			"shop-c-users-get",  // nested stack known by its JWKS parameter only
			"shop-users-handmade",
			"shop",
			"workshop-users-half",
			"tf1a2b-users-get",
		},
		tables: []string{
			model.Tables[0].Name,
			"shop-wishlists",
			"shop-b-users",
			"shop-c",
			"shop-c-users",
			"shopping",
			"test-users-1-2",
		},
		parameters: []string{naming.JWKSParameter("shop"), naming.JWKSParameter("shop-c"), "/shop-d/other", "/tf1a2b/jwks"},
	}
	got := planPrune(model, scan)
	if want := []string{"b-users-gone", "users-gone"}; !slices.Equal(got.functions, want) {
		t.Errorf("functions %v, want %v", got.functions, want)
	}
	if want := []string{"users-half"}; !slices.Equal(got.roles, want) {
		t.Errorf("roles %v, want %v", got.roles, want)
	}
	if want := []string{"shop-wishlists"}; !slices.Equal(got.tables, want) {
		t.Errorf("tables %v, want %v", got.tables, want)
	}
}

// A stack the model has all of has nothing to prune.
func TestPlanPruneOfTheModelItself(t *testing.T) {
	model := testModel(t)
	var scan pruneScan
	for _, fn := range model.Functions {
		scan.functions = append(scan.functions, liveFunction{fn.FunctionName, model.Prefix})
		scan.roles = append(scan.roles, fn.Role.Name)
	}
	for _, tbl := range model.Tables {
		scan.tables = append(scan.tables, tbl.Name)
	}
	scan.parameters = []string{model.JWKSParameter}
	if got := planPrune(model, scan); len(got.functions)+len(got.roles)+len(got.tables) > 0 {
		t.Errorf("planPrune of the deployed model = %+v, want nothing", got)
	}
}

func TestNestedStacks(t *testing.T) {
	scan := pruneScan{
		functions:  []liveFunction{{"shop-b-x", "shop-b"}, {"shop-b-y", "shop-b"}, {"shop-x", "shop"}, {"workshop-x", "workshop"}, {"f", ""}},
		parameters: []string{naming.JWKSParameter("shop-c"), naming.JWKSParameter("shopping"), "/shop-d/other", "/shop-e/jwks/old"},
	}
	if got, want := nestedStacks("shop", scan), []string{"shop-b", "shop-c"}; !slices.Equal(got, want) {
		t.Errorf("nestedStacks = %v, want %v", got, want)
	}
}

func TestLooksDeployed(t *testing.T) {
	role := testModel(t).Functions[0].Role
	trust := mustJSON(role.Trust)
	other := mustJSON(deployment.StateMachineTrust())
	tests := []struct {
		name     string
		trust    string
		inline   []string
		attached int
		want     bool
	}{
		{"the model's trust and policy", trust, []string{role.PolicyName}, 0, true},
		{"the model's trust, no policy", trust, nil, 0, true},
		{"another trust", other, []string{role.PolicyName}, 0, false},
		{"another inline policy too", trust, []string{role.PolicyName, "extra"}, 0, false},
		{"an inline policy named otherwise", trust, []string{role.Name}, 0, false},
		{"a managed policy attached", trust, []string{role.PolicyName}, 1, false},
		{"no trust read", "", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := liveRole{trust: tt.trust, inline: tt.inline, attached: make([]string, tt.attached)}
			if got := live.looksDeployed(role); got != tt.want {
				t.Errorf("looksDeployed = %v, want %v", got, tt.want)
			}
		})
	}
}

// Rules, mappings and queues of the stack that the model no longer has go;
// a test's rule on the bus, a nested stack's queues and mappings, and
// queues not named after a function of the stack stay.
func TestPlanPruneEvents(t *testing.T) {
	model := eventsModel(t, evNoConsumer) // prefix shop; evsub-got removed
	relay := model.Function("evfix-relay")
	scan := pruneScan{
		functions: []liveFunction{
			{relay.FunctionName, "shop"},
			{"shop-evsub-got", "shop"}, // removed from the manifests
			{"shop-b-users-get", "shop-b"},
		},
		bus: true, archive: true,
		rules: []string{"shop-evsub-got", "shop-orders-old", "e2e-capture"},
		queues: []string{
			relay.Relay.DeadLetterQueue.Name,
			"shop-evsub-got", "shop-evsub-got-dlq", // the removed consumer's
			"shop-evsub-other",         // a model function's that is no longer a consumer
			"shop-evsub-half-dlq",      // of a function whose role is all that is left
			"shop-b-users-get",         // the nested stack's
			"shop-handmade",            // no function's
			"shop-evfix-relay-dlq-x",   // no function's
			"shop-evsub-other-dlq-dlq", // no function's
		},
		mappings: []liveMapping{
			{"1", relay.FunctionName, testStream},
			{"2", "shop-evsub-got", "arn:aws:sqs:us-east-1:000000000000:shop-evsub-got"},
			{"3", "shop-gone-fn", "arn:aws:sqs:us-east-1:000000000000:x"}, // its function is gone
			{"4", "shop-b-users-get", "arn:aws:sqs:us-east-1:000000000000:shop-b-users-get"},
			{"5", "other-fn", "arn:aws:sqs:us-east-1:000000000000:y"},
		},
		roles: []string{"shop-evsub-half"},
	}
	for _, fn := range model.Functions {
		scan.roles = append(scan.roles, fn.Role.Name)
	}
	scan.parameters = []string{naming.JWKSParameter("shop"), naming.JWKSParameter("shop-b")}
	got := planPrune(model, scan)
	if want := []string{"shop-evsub-got", "shop-orders-old"}; !slices.Equal(got.rules, want) {
		t.Errorf("rules %v, want %v", got.rules, want)
	}
	var uuids []string
	for _, m := range got.mappings {
		uuids = append(uuids, m.uuid)
	}
	if want := []string{"2", "3"}; !slices.Equal(uuids, want) {
		t.Errorf("mappings %v, want %v (by function)", uuids, want)
	}
	if want := []string{"shop-evsub-got", "shop-evsub-got-dlq", "shop-evsub-half-dlq", "shop-evsub-other"}; !slices.Equal(got.queues, want) {
		t.Errorf("queues %v, want %v", got.queues, want)
	}
	if got.eventBus || got.busKept {
		t.Errorf("the model has a bus, and pruning would touch it: %+v", got)
	}

	silent := eventsModel(t, evNoEvents)
	if got := planPrune(silent, scan); got.eventBus || !got.busKept {
		t.Errorf("no bus in the model, a test's rule on it: delete %v, keep %v; want it kept", got.eventBus, got.busKept)
	}
	scan.rules = []string{"shop-evsub-got"}
	if got := planPrune(silent, scan); !got.eventBus || got.busKept || !slices.Equal(got.rules, scan.rules) {
		t.Errorf("no bus in the model, only its rules on it: %+v, want rules and bus deleted", got)
	}
}

func TestFunctionNameOf(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:lambda:us-east-1:000000000000:function:shop-x":         "shop-x",
		"arn:aws:lambda:us-east-1:000000000000:function:shop-x:live":    "shop-x",
		"arn:aws:lambda:us-east-1:000000000000:function:shop-x:$LATEST": "shop-x",
	} {
		if got := functionNameOf(arn); got != want {
			t.Errorf("functionNameOf(%s) = %s, want %s", arn, got, want)
		}
	}
}
