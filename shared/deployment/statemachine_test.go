package deployment_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/deployment/deploymenttest"
	"github.com/shop-serverless/shop/shared/manifest"
)

// sagaTree is a stack with a state machine, a function that starts it and
// calls another service, a step, and a localOnly payment provider.
func sagaTree(t *testing.T) *manifest.Set {
	t.Helper()
	files := map[string]string{
		"shop/service.yaml": `service: shop
description: d
table: {partitionKey: {name: pk, type: S}}
stateMachines:
  - {name: saga, description: the saga, definition: saga.asl.json}
`,
		"shop/saga.asl.json": `{
  "QueryLanguage": "JSONata", "StartAt": "Charge",
  "States": {"Charge": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
    "Arguments": {"FunctionName": "${step:shop-charge}", "Payload": "{% $states.input %}"}, "End": true}}
}`,
		"shop/charge/function.yaml": `name: shop-charge
description: d
kind: step
memory: 128
timeout: 5
permissions: {paymentProvider: true}
`,
		"shop/start/function.yaml": `name: shop-start
description: d
kind: http
http: {method: POST, path: /v1/things, auth: none}
memory: 128
timeout: 5
permissions: {startExecution: [saga], calls: [shop]}
`,
		"sim/service.yaml": `service: sim
description: d
localOnly: true
table: {partitionKey: {name: pk, type: S}}
`,
		"sim/charges/function.yaml": `name: sim-charges
description: d
kind: http
http: {method: POST, path: /provider/v1/charges, auth: none}
memory: 128
timeout: 5
permissions: {paymentProvider: true}
`,
	}
	return loadTree(t, files)
}

// loadTree loads the manifests of a repository holding files (by path
// under functions/, or under events/ when the path starts with "events/").
func loadTree(t *testing.T, files map[string]string) *manifest.Set {
	t.Helper()
	tree := make(map[string]string, len(files))
	for name, body := range files {
		if !strings.HasPrefix(name, "events/") {
			name = "functions/" + name
		}
		tree[name] = body
	}
	return deploymenttest.LoadTree(t, tree)
}

func TestStateMachineModel(t *testing.T) {
	d, err := deployment.Build(sagaTree(t), deployment.Params{Prefix: "acme", Region: "eu-west-1", Account: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	sm := d.StateMachine("shop-saga")
	if sm == nil || len(d.StateMachines) != 1 {
		t.Fatalf("state machines = %+v", d.StateMachines)
	}
	chargeARN := "arn:aws:lambda:eu-west-1:123456789012:function:acme-shop-charge"
	if sm.StateMachineName != "acme-shop-saga" || sm.ARN != "arn:aws:states:eu-west-1:123456789012:stateMachine:acme-shop-saga" ||
		sm.LogGroup != "/aws/vendedlogs/states/acme-shop-saga" || !slices.Equal(sm.Steps, []string{"shop-charge"}) {
		t.Fatalf("state machine = %+v", sm)
	}
	if strings.Contains(sm.Definition, "${step:") || !strings.Contains(sm.Definition, `"FunctionName":"`+chargeARN+`"`) || !json.Valid([]byte(sm.Definition)) {
		t.Fatalf("definition = %s", sm.Definition)
	}
	if sm.Role.Trust.Statement[0].Principal["Service"] != "states.amazonaws.com" {
		t.Fatalf("trust = %+v", sm.Role.Trust)
	}
	invoke := sm.Role.Policy.Statement[0]
	if !slices.Equal(invoke.Action, []string{"lambda:InvokeFunction"}) || !slices.Equal(invoke.Resource, []string{chargeARN}) {
		t.Fatalf("the saga may invoke %v on %v, want exactly its one step", invoke.Action, invoke.Resource)
	}

	start := d.Function("shop-start")
	if start.Environment["SHOP_STATE_MACHINE_SAGA"] != sm.ARN || start.Bindings[manifest.EnvAPIURL] != deployment.BindingAPIURL {
		t.Fatalf("start env %v bindings %v", start.Environment, start.Bindings)
	}
	if _, ok := start.Environment[manifest.EnvAPIURL]; ok {
		t.Fatal("a binding is also in Environment")
	}
	grants := map[string][]string{}
	for _, st := range start.Role.Policy.Statement {
		for _, a := range st.Action {
			grants[a] = st.Resource
		}
	}
	if !slices.Equal(grants["states:StartExecution"], []string{sm.ARN}) ||
		!slices.Equal(grants["states:DescribeExecution"], []string{"arn:aws:states:eu-west-1:123456789012:execution:acme-shop-saga:*"}) {
		t.Fatalf("start grants %v", grants)
	}

	charge := d.Function("shop-charge")
	if charge.Environment[manifest.EnvPaymentProviderSecret] != "acme/payment-provider" || charge.Bindings[manifest.EnvPaymentProviderURL] != deployment.BindingPaymentProviderURL || charge.LocalOnly {
		t.Fatalf("charge = %+v", charge)
	}
	last := charge.Role.Policy.Statement[len(charge.Role.Policy.Statement)-1]
	if !slices.Equal(last.Resource, []string{"arn:aws:secretsmanager:eu-west-1:123456789012:secret:acme/payment-provider-??????"}) {
		t.Fatalf("charge's secret grant = %+v", last)
	}
	if d.PaymentProvider == nil || d.PaymentProvider.Secret != "acme/payment-provider" || !slices.Equal(d.PaymentProvider.Simulator, []string{"sim-charges"}) {
		t.Fatalf("payment provider = %+v", d.PaymentProvider)
	}
	if !d.Function("sim-charges").LocalOnly || d.Function("sim-charges").Route.Path[:len(deployment.PaymentSimulatorPath)] != deployment.PaymentSimulatorPath {
		t.Fatal("the simulator is not localOnly, or not under PaymentSimulatorPath")
	}
	for _, tb := range d.Tables {
		if tb.LocalOnly != (tb.Service == "sim") {
			t.Fatalf("table %s localOnly = %v", tb.Name, tb.LocalOnly)
		}
	}

	other, err := deployment.Build(sagaTree(t), deployment.Params{Prefix: "acme", Region: "eu-west-1", Account: "123456789012", PaymentProviderSecret: "prod/stripe"})
	if err != nil {
		t.Fatal(err)
	}
	if other.PaymentProvider.Secret != "prod/stripe" || other.Function("shop-charge").Environment[manifest.EnvPaymentProviderSecret] != "prod/stripe" {
		t.Fatal("the payment provider's secret name is not the one given")
	}
}
