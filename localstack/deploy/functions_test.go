package main

import (
	"maps"
	"slices"
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
	fn := &manifest.Function{Name: "users-get", Service: "users", Environment: manifest.Env{"LOG_LEVEL": "debug"},
		HTTP: &manifest.HTTPTrigger{Method: "GET", Path: "/v1/users/{id}", Auth: "user"}}
	got := functionEnvironment("shop", fn)
	want := manifest.Environment("shop", fn)
	want["SHOP_FAULTS"] = "1"
	want["SHOP_RECORD_AWS_CALLS"] = "1"
	if !maps.Equal(got, want) {
		t.Errorf("functionEnvironment = %v, want manifest.Environment plus SHOP_FAULTS=1 and SHOP_RECORD_AWS_CALLS=1: %v", got, want)
	}
	if got["SHOP_AUTH"] != "user" || got["SHOP_PREFIX"] != "shop" {
		t.Errorf("the manifest's wiring is missing: %v", got)
	}
}
