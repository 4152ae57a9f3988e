package main

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/manifest"
)

func TestConfigDiff(t *testing.T) {
	base := functionConfig{
		Role: "arn:aws:iam::000000000000:role/shop-users-get", Runtime: "provided.al2023", Handler: "bootstrap",
		Description: "Read a user.", MemoryMB: 128, Timeout: 5, Tracing: "Active", LogFormat: "JSON", LogGroup: "/aws/lambda/shop-users-get",
		Env: map[string]string{"SHOP_TABLE": "shop-users"},
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
		{"description", with(func(c *functionConfig) { c.Description = "shop function users-get" }), []string{"description"}},
		{"tracing passed through", with(func(c *functionConfig) { c.Tracing = "PassThrough" }), []string{"tracing"}},
		{"text logs in the default group", with(func(c *functionConfig) { c.LogFormat, c.LogGroup = "Text", "/aws/lambda/other" }), []string{"log format", "log group"}},
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
	role, handler, desc, group := "arn:role", "bootstrap", "Read a user.", "/aws/lambda/shop-users-get"
	c := &ltypes.FunctionConfiguration{
		Role: &role, Handler: &handler, Runtime: ltypes.RuntimeProvidedal2023, Description: &desc,
		MemorySize: &mem, Timeout: &timeout,
		TracingConfig: &ltypes.TracingConfigResponse{Mode: ltypes.TracingModeActive},
		LoggingConfig: &ltypes.LoggingConfig{LogFormat: ltypes.LogFormatJson, LogGroup: &group},
		Environment:   &ltypes.EnvironmentResponse{Variables: map[string]string{"A": "1"}},
	}
	want := functionConfig{
		Role: role, Runtime: "provided.al2023", Handler: handler, Description: desc, MemoryMB: 256, Timeout: 10,
		Tracing: "Active", LogFormat: "JSON", LogGroup: group, Env: map[string]string{"A": "1"},
	}
	if d := configDiff(want, haveConfig(c)); len(d) != 0 {
		t.Errorf("haveConfig differs from the configuration in %v", d)
	}
	if got := haveConfig(&ltypes.FunctionConfiguration{}); got.Env != nil {
		t.Errorf("a configuration without Environment gave env %v", got.Env)
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

func TestFunctionEnvironmentSetsTheTestSwitches(t *testing.T) {
	fn := testModel(t).Function("users-get")
	if fn == nil {
		t.Fatal("no users-get in the model")
	}
	before := maps.Clone(fn.Environment)
	got, err := functionEnvironment(fn, bindingValues{})
	if err != nil {
		t.Fatal(err)
	}
	want := maps.Clone(before)
	want["SHOP_FAULTS"] = "1"
	want["SHOP_RECORD_AWS_CALLS"] = "1"
	if !maps.Equal(got, want) {
		t.Errorf("functionEnvironment = %v, want the model's environment plus SHOP_FAULTS=1 and SHOP_RECORD_AWS_CALLS=1: %v", got, want)
	}
	if !maps.Equal(fn.Environment, before) {
		t.Errorf("functionEnvironment changed the model's environment: %v", fn.Environment)
	}
	if got["SHOP_AUTH"] != "user" || got["SHOP_PREFIX"] != "shop" {
		t.Errorf("the model's wiring is missing: %v", got)
	}
}

// Every function sends its segments to its own emulator's trace collector:
// UDP on 127.0.0.1 at the emulator's port number, whatever host the API
// URL names.
func TestFunctionEnvironmentNamesTheTraceCollector(t *testing.T) {
	model := testModel(t)
	for _, tt := range []struct{ apiURL, want string }{
		{"http://127.0.0.1:4566/_aws/execute-api/abc/$default", "127.0.0.1:4566"},
		{"http://localhost:4620/_aws/execute-api/abc/$default", "127.0.0.1:4620"},
		{"http://emulator/_aws/execute-api/abc/$default", ""}, // no port: nothing to name
	} {
		values := stackBindings(model, tt.apiURL)
		for _, name := range []string{"users-get", "orders-create"} {
			fn := model.Function(name)
			got, err := functionEnvironment(fn, values)
			if err != nil {
				t.Fatal(err)
			}
			if addr, ok := got[traceDaemonVariable]; addr != tt.want || ok != (tt.want != "") {
				t.Errorf("API %s: %s has %s=%q (set %v), want %q", tt.apiURL, name, traceDaemonVariable, addr, ok, tt.want)
			}
			if _, ok := fn.Environment[traceDaemonVariable]; ok {
				t.Errorf("the model names %s for %s: on AWS Lambda sets it", traceDaemonVariable, name)
			}
		}
	}
}

// A function's bindings are filled in from the stack's values, and one the
// stack has no value for fails the deploy instead of leaving the variable
// out.
func TestFunctionEnvironmentFillsTheBindings(t *testing.T) {
	fn := &deployment.Function{
		FunctionName: "shop-orders-create",
		Environment:  map[string]string{"SHOP_TABLE": "shop-orders"},
		Bindings: map[string]string{
			manifest.EnvAPIURL:             deployment.BindingAPIURL,
			manifest.EnvPaymentProviderURL: deployment.BindingPaymentProviderURL,
		},
	}
	values := bindingValues{stack: map[string]string{
		deployment.BindingAPIURL:             "http://127.0.0.1:4566/_aws/execute-api/abc/$default",
		deployment.BindingPaymentProviderURL: "http://127.0.0.1:4566/_aws/execute-api/abc/$default/provider",
	}}
	got, err := functionEnvironment(fn, values)
	if err != nil {
		t.Fatal(err)
	}
	if got[manifest.EnvAPIURL] != values.stack[deployment.BindingAPIURL] || got[manifest.EnvPaymentProviderURL] != values.stack[deployment.BindingPaymentProviderURL] || got["SHOP_TABLE"] != "shop-orders" {
		t.Errorf("environment = %v", got)
	}
	if _, ok := fn.Environment[manifest.EnvAPIURL]; ok {
		t.Error("functionEnvironment wrote into the model's environment")
	}
	delete(values.stack, deployment.BindingPaymentProviderURL)
	if _, err := functionEnvironment(fn, values); err == nil || !strings.Contains(err.Error(), deployment.BindingPaymentProviderURL) {
		t.Errorf("a binding without a value: err = %v, want it named", err)
	}
}

// A queue binding is the URL of the function's own queue: its consumer
// queue, or its dead-letter queue for a relay.
func TestFunctionEnvironmentFillsQueueBindings(t *testing.T) {
	consumer := &deployment.Function{
		FunctionName: "shop-notes-notify",
		Bindings:     map[string]string{manifest.EnvQueueURL: deployment.BindingQueueURL},
		Consumer:     &deployment.Consumer{Queue: deployment.Queue{Name: "shop-notes-notify"}, DeadLetterQueue: deployment.Queue{Name: "shop-notes-notify-dlq"}},
	}
	relay := &deployment.Function{
		FunctionName: "shop-orders-relay",
		Bindings:     map[string]string{manifest.EnvDeadLetterQueueURL: deployment.BindingDeadLetterQueueURL},
		Relay:        &deployment.Relay{DeadLetterQueue: deployment.Queue{Name: "shop-orders-relay-dlq"}},
	}
	values := bindingValues{queues: map[string]string{
		"shop-notes-notify":     "http://127.0.0.1:4566/000000000000/shop-notes-notify",
		"shop-notes-notify-dlq": "http://127.0.0.1:4566/000000000000/shop-notes-notify-dlq",
		"shop-orders-relay-dlq": "http://127.0.0.1:4566/000000000000/shop-orders-relay-dlq",
	}}
	got, err := functionEnvironment(consumer, values)
	if err != nil || got[manifest.EnvQueueURL] != values.queues["shop-notes-notify"] {
		t.Errorf("consumer environment %v (%v), want its own queue's URL", got, err)
	}
	got, err = functionEnvironment(relay, values)
	if err != nil || got[manifest.EnvDeadLetterQueueURL] != values.queues["shop-orders-relay-dlq"] {
		t.Errorf("relay environment %v (%v), want its dead-letter queue's URL", got, err)
	}
	delete(values.queues, "shop-orders-relay-dlq")
	if _, err := functionEnvironment(relay, values); err == nil || !strings.Contains(err.Error(), deployment.BindingDeadLetterQueueURL) {
		t.Errorf("a queue binding without its queue: err = %v, want it named", err)
	}
}

// The configuration the deployer wants is the model's, field by field.
func TestWantConfigIsTheModels(t *testing.T) {
	fn := testModel(t).Function("users-login")
	got, err := wantConfig(fn, "arn:role", bindingValues{})
	if err != nil {
		t.Fatal(err)
	}
	env, _ := functionEnvironment(fn, bindingValues{})
	want := functionConfig{
		Role: "arn:role", Runtime: deployment.Runtime, Handler: deployment.Handler, Description: fn.Description,
		MemoryMB: int32(fn.MemoryMB), Timeout: int32(fn.TimeoutSecs),
		Tracing: "Active", LogFormat: "JSON", LogGroup: "/aws/lambda/shop-users-login", Env: env,
	}
	if d := configDiff(want, got); len(d) != 0 {
		t.Errorf("wantConfig differs from the model in %v: %+v", d, got)
	}
	if got.MemoryMB == 0 || got.Timeout == 0 || got.Description == "" {
		t.Errorf("wantConfig lost settings: %+v", got)
	}
}

// testModel is the repository's deployment model as the deployer builds it
// for prefix shop.
func testModel(t *testing.T) *deployment.Deployment {
	t.Helper()
	set, err := manifest.Load(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	d, err := deployment.Build(set, deployment.Params{Prefix: "shop", Region: "us-east-1", Account: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}
