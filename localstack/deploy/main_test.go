package main

import (
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestAPIBaseURL(t *testing.T) {
	tests := []struct {
		endpoint string
		want     string
	}{
		{"http://127.0.0.1:4566", "http://127.0.0.1:4566/_aws/execute-api/abc123/$default"},
		{"http://localhost:4570/", "http://localhost:4570/_aws/execute-api/abc123/$default"},
		{"https://localstack.internal:443/some/path", "https://localstack.internal:443/_aws/execute-api/abc123/$default"},
		{"http://emulator", "http://emulator/_aws/execute-api/abc123/$default"},
	}
	for _, tt := range tests {
		got, err := apiBaseURL(tt.endpoint, "abc123", "$default")
		if err != nil {
			t.Errorf("apiBaseURL(%q): %v", tt.endpoint, err)
			continue
		}
		if got != tt.want {
			t.Errorf("apiBaseURL(%q) = %q, want %q", tt.endpoint, got, tt.want)
		}
	}
	for _, bad := range []string{"", "127.0.0.1:4566", "ftp://host", "http://"} {
		if _, err := apiBaseURL(bad, "abc123", "$default"); err == nil {
			t.Errorf("apiBaseURL(%q) accepted a malformed endpoint", bad)
		}
	}
	if _, err := apiBaseURL("http://127.0.0.1:4566", "", "$default"); err == nil {
		t.Error("apiBaseURL accepted an empty API id")
	}
}

func TestParseFlagsDefaults(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "")
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.endpoint != "http://127.0.0.1:4566" || o.prefix != "shop" || o.goarch != runtime.GOARCH || o.buildOnly {
		t.Errorf("defaults: %+v", o)
	}
	if o.out != filepath.Join("build", "local") || o.urlFile != filepath.Join(".local", "api-url") {
		t.Errorf("default paths: out %q, url file %q", o.out, o.urlFile)
	}

	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4570")
	o, err = parseFlags([]string{"-root", "/repo", "-out", "build/aws", "-goarch", "arm64", "-build-only"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.endpoint != "http://127.0.0.1:4570" {
		t.Errorf("endpoint %q, want $AWS_ENDPOINT_URL", o.endpoint)
	}
	if o.out != "/repo/build/aws" || o.urlFile != "/repo/.local/api-url" {
		t.Errorf("relative paths not resolved under -root: out %q, url file %q", o.out, o.urlFile)
	}
	if !o.buildOnly || o.goarch != "arm64" {
		t.Errorf("flags not applied: %+v", o)
	}
	o, err = parseFlags([]string{"-out", "/abs/out"}, io.Discard)
	if err != nil || o.out != "/abs/out" {
		t.Errorf("absolute -out changed: %q, %v", o.out, err)
	}
}

func TestParseFlagsRejects(t *testing.T) {
	for _, args := range [][]string{
		{"-goarch", "386"},
		{"-prefix", "Shop"},
		{"-prefix", ""},
		{"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted it", args)
		}
	}
}

func TestProgressLineAlignment(t *testing.T) {
	a := progressLine("table", "shop-users", statusCreated)
	b := progressLine("integration", "shop-inventory-adjust-stock", statusUnchanged)
	if strings.Index(a, statusCreated) != strings.Index(b, statusUnchanged) {
		t.Errorf("status columns differ:\n%s\n%s", a, b)
	}
	if !strings.HasPrefix(a, "table ") || !strings.HasSuffix(a, " created") {
		t.Errorf("line %q", a)
	}
	long := progressLine("log group", "/aws/lambda/a-prefix-of-twenty-ch-inventory-adjust-stock", statusCreated)
	if !strings.HasSuffix(long, "-stock "+statusCreated) {
		t.Errorf("a name longer than the column runs into the status: %q", long)
	}
}
