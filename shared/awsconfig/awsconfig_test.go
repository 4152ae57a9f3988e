package awsconfig

import (
	"context"
	"testing"
)

func TestFromEnv(t *testing.T) {
	base := map[string]string{
		"AWS_REGION":            "eu-west-1",
		"AWS_ACCESS_KEY_ID":     "AKID",
		"AWS_SECRET_ACCESS_KEY": "SECRET",
		"AWS_SESSION_TOKEN":     "TOKEN",
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name     string
		env      map[string]string
		ok       bool
		endpoint string
	}{
		{"lambda environment", base, true, ""},
		{"emulator endpoint", with("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"), true, "http://127.0.0.1:4566"},
		{"default region only", with("AWS_REGION", ""), false, ""},
		{"no secret", with("AWS_SECRET_ACCESS_KEY", ""), false, ""},
		{"profile wins", with("AWS_PROFILE", "dev"), false, ""},
		{"fips", with("AWS_USE_FIPS_ENDPOINT", "true"), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, ok := fromEnv(func(k string) string { return tt.env[k] })
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if cfg.Region != "eu-west-1" {
				t.Errorf("region = %q", cfg.Region)
			}
			got := ""
			if cfg.BaseEndpoint != nil {
				got = *cfg.BaseEndpoint
			}
			if got != tt.endpoint {
				t.Errorf("endpoint = %q, want %q", got, tt.endpoint)
			}
			creds, err := cfg.Credentials.Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if creds.AccessKeyID != "AKID" || creds.SecretAccessKey != "SECRET" || creds.SessionToken != "TOKEN" {
				t.Errorf("credentials = %+v", creds)
			}
		})
	}
}

func TestFromEnvFallsBackOnServiceEndpoint(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000")
	env := map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}
	if _, ok := fromEnv(func(k string) string { return env[k] }); ok {
		t.Fatal("a per-service endpoint must send Load to the default chain")
	}
}

func TestLoadDefaultChainHonoursEndpoint(t *testing.T) {
	// No static credentials: Load takes the SDK chain and still sees the endpoint.
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	cfg, err := Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BaseEndpoint == nil || *cfg.BaseEndpoint != "http://127.0.0.1:4566" {
		t.Fatalf("BaseEndpoint = %v", cfg.BaseEndpoint)
	}
}
