package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/shop-serverless/shop/infra/internal/awstool"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/servicetoken/ssmkeys"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestParseArgs(t *testing.T) {
	noEnv := env(nil)
	tests := []struct {
		name   string
		args   []string
		getenv func(string) string
		want   command
	}{
		{"ensure", []string{"ensure", "-services", "users,operator"}, noEnv,
			command{name: "ensure", prefix: "shop", manifests: ".", services: []string{"users", "operator"}}},
		{"ensure every issuer", []string{"ensure"}, noEnv,
			command{name: "ensure", prefix: "shop", manifests: "."}},
		{"prefix before the command", []string{"-prefix", "dev", "rotate", "-services", "users"}, noEnv,
			command{name: "rotate", prefix: "dev", manifests: ".", services: []string{"users"}}},
		{"prefix after the command", []string{"rotate", "-services", " users , ,orders", "-prefix", "dev"}, noEnv,
			command{name: "rotate", prefix: "dev", manifests: ".", services: []string{"users", "orders"}}},
		{"manifests elsewhere", []string{"-manifests", "/src/shop", "rotate"}, noEnv,
			command{name: "rotate", prefix: "shop", manifests: "/src/shop"}},
		{"endpoint from the environment", []string{"retire", "-service", "users", "-kid", "k1"}, env(map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}),
			command{name: "retire", prefix: "shop", manifests: ".", endpoint: "http://127.0.0.1:4566", service: "users", kid: "k1"}},
		{"endpoint flag wins", []string{"-endpoint", "http://127.0.0.1:4591", "ensure", "-services", "users"}, env(map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}),
			command{name: "ensure", prefix: "shop", manifests: ".", endpoint: "http://127.0.0.1:4591", services: []string{"users"}}},
		{"token defaults", []string{"token", "-scopes", "inventory:write"}, noEnv,
			command{name: "token", prefix: "shop", manifests: ".", scopes: []string{"inventory:write"}, ttl: 5 * time.Minute, kind: "service"}},
		{"token, every flag", []string{"token", "-scopes", "a:b, c:d e:f", "-ttl", "30s", "-kind", "service"}, noEnv,
			command{name: "token", prefix: "shop", manifests: ".", scopes: []string{"a:b", "c:d", "e:f"}, ttl: 30 * time.Second, kind: "service"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseArgs(tt.args, tt.getenv, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("parseArgs(%q)\n got %+v\nwant %+v", tt.args, got, tt.want)
			}
		})
	}
}

func TestParseArgsRefuses(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no command", nil, "no command"},
		{"unknown command", []string{"destroy"}, "unknown command"},
		{"empty services", []string{"rotate", "-services", " , "}, "names no service"},
		{"bad service name", []string{"ensure", "-services", "Users"}, "must match"},
		{"retire without kid", []string{"retire", "-service", "users"}, "-kid is required"},
		{"retire without service", []string{"retire", "-kid", "k"}, "-service"},
		{"user token", []string{"token", "-kind", "user"}, "user tokens come from login"},
		{"odd kind", []string{"token", "-kind", "admin"}, "service tokens only"},
		{"ttl too long", []string{"token", "-ttl", "6m"}, "-ttl"},
		{"ttl too short", []string{"token", "-ttl", "10ms"}, "-ttl"},
		// The operator's policy names its one subject; no flag may pick another.
		{"token as another subject", []string{"token", "-sub", "smoke-test"}, "flag provided but not defined"},
		{"extra arguments", []string{"ensure", "-services", "users", "orders"}, "unexpected arguments"},
		{"flag of another command", []string{"ensure", "-kid", "k"}, "flag provided but not defined"},
		{"bad prefix", []string{"-prefix", "Shop!", "ensure", "-services", "users"}, "-prefix"},
		{"bad endpoint", []string{"-endpoint", "localhost:4566", "ensure", "-services", "users"}, "-endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseArgs(tt.args, env(nil), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("parseArgs(%q) = %v, want an error about %q", tt.args, err, tt.wantErr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseArgs([]string{"-h"}, env(nil), &stderr)
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "usage: keytool") {
		t.Fatalf("err %v, stderr %q", err, stderr.String())
	}
}

// fakeKeys records calls (and the policy each key was published with)
// and signs with a fixed operator key.
type fakeKeys struct {
	calls    []string
	policies map[string]servicetoken.Policy
	created  map[string]bool
	err      error
	key      ed25519.PrivateKey
}

func (f *fakeKeys) EnsureIssuer(_ context.Context, svc string, p servicetoken.Policy) (bool, error) {
	f.calls = append(f.calls, "ensure "+svc)
	f.policies[svc] = p
	return f.created[svc], f.err
}

func (f *fakeKeys) Rotate(_ context.Context, svc string, p servicetoken.Policy) (string, error) {
	f.calls = append(f.calls, "rotate "+svc)
	f.policies[svc] = p
	return "shop-" + svc + "-20260301T120000-abcd", f.err
}

func (f *fakeKeys) Retire(_ context.Context, svc, kid string) error {
	f.calls = append(f.calls, "retire "+svc+" "+kid)
	return f.err
}

func (f *fakeKeys) LoadSigner(_ context.Context, svc string) (*servicetoken.Signer, error) {
	f.calls = append(f.calls, "load "+svc)
	if f.err != nil {
		return nil, f.err
	}
	return servicetoken.NewSigner(naming.Issuer("shop", svc), "op-kid", f.key), nil
}

func newFakeKeys() *fakeKeys {
	seed := sha256.Sum256([]byte("operator"))
	return &fakeKeys{created: map[string]bool{"users": true}, policies: map[string]servicetoken.Policy{}, key: ed25519.NewKeyFromSeed(seed[:])}
}

func runWith(t *testing.T, keys keyStore, args ...string) (string, error) {
	t.Helper()
	var stdout bytes.Buffer
	connect := func(context.Context, string, string, func(string) string) (keyStore, error) { return keys, nil }
	// The repository's own manifests declare the issuers.
	err := run(context.Background(), append([]string{"-manifests", repoRoot}, args...), &stdout, io.Discard, env(nil), connect)
	return stdout.String(), err
}

func TestDispatch(t *testing.T) {
	tests := []struct {
		args      []string
		wantOut   string
		wantCalls []string
	}{
		{[]string{"ensure", "-services", "users,operator"},
			"issuer shop-users created\nissuer shop-operator unchanged\n", []string{"ensure users", "ensure operator"}},
		{[]string{"rotate", "-services", "operator,users"},
			"shop-operator-20260301T120000-abcd\nshop-users-20260301T120000-abcd\n", []string{"rotate operator", "rotate users"}},
		{[]string{"retire", "-service", "users", "-kid", "k1"},
			"issuer shop-users retired k1\n", []string{"retire users k1"}},
	}
	for _, tt := range tests {
		t.Run(tt.args[0], func(t *testing.T) {
			keys := newFakeKeys()
			out, err := runWith(t, keys, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if out != tt.wantOut || !reflect.DeepEqual(keys.calls, tt.wantCalls) {
				t.Fatalf("out %q calls %q; want %q %q", out, keys.calls, tt.wantOut, tt.wantCalls)
			}
		})
	}
}

// repoRoot is where the repository's manifests are, seen from this package.
const repoRoot = "../.."

// ensure and rotate publish the policy the manifests declare: all issuers
// by default, and a service that declares no tokens is refused.
func TestIssuersComeFromTheManifests(t *testing.T) {
	set, err := manifest.Load(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, iss := range set.Issuers() {
		all = append(all, iss.Service)
	}
	for _, cmd := range []string{"ensure", "rotate"} {
		keys := newFakeKeys()
		if _, err := runWith(t, keys, cmd); err != nil {
			t.Fatal(err)
		}
		var served []string
		for _, call := range keys.calls {
			served = append(served, strings.TrimPrefix(call, cmd+" "))
		}
		if !reflect.DeepEqual(served, all) {
			t.Fatalf("%s acted on %v, want every issuer %v", cmd, served, all)
		}
		for _, iss := range set.Issuers() {
			if got := keys.policies[iss.Service]; !reflect.DeepEqual(got, iss.Policy) {
				t.Errorf("%s %s: published %+v, the manifests say %+v", cmd, iss.Service, got, iss.Policy)
			}
		}
	}
	keys := newFakeKeys()
	if _, err := runWith(t, keys, "ensure", "-services", "users,inventory"); err == nil || !strings.Contains(err.Error(), "inventory is no issuer") || len(keys.calls) != 0 {
		t.Fatalf("ensure of a service without tokens: %v, calls %q; want a refusal before any call", err, keys.calls)
	}
	if _, err := runWith(t, keys, "-manifests", t.TempDir(), "ensure"); err == nil || !strings.Contains(err.Error(), "manifests") {
		t.Fatalf("ensure without manifests: %v", err)
	}
}

// The token command prints the token and nothing else, so
// TOKEN=$(make -s token ...) works, and the token verifies.
func TestTokenPrintsOnlyAVerifiableToken(t *testing.T) {
	keys := newFakeKeys()
	out, err := runWith(t, keys, "-prefix", "shop", "token", "-scopes", "inventory:write,orders:read", "-ttl", "2m")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("stdout %q, want one line", out)
	}
	keySet := servicetoken.KeySet{"op-kid": {Issuer: "shop-operator", Key: keys.key.Public().(ed25519.PublicKey), Policy: manifest.OperatorPolicy()}}
	c, err := servicetoken.NewVerifier(servicetoken.StaticKeySource(keySet), naming.Audience("shop")).
		Verify(context.Background(), strings.TrimSpace(out), "inventory:write", "orders:read")
	if err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	if c.Kind != servicetoken.KindService || c.Subject != "operator" || c.Expiry.Sub(c.IssuedAt) != 2*time.Minute {
		t.Fatalf("claims %+v", c)
	}
	if !reflect.DeepEqual(keys.calls, []string{"load operator"}) {
		t.Fatalf("calls %q: the token must be signed by the operator issuer", keys.calls)
	}
}

func TestErrorsNameTheStep(t *testing.T) {
	keys := newFakeKeys()
	keys.err = servicetoken.ErrNoSigningKeys
	for _, args := range [][]string{
		{"ensure", "-services", "users"},
		{"rotate", "-services", "users"},
		{"retire", "-service", "users", "-kid", "k"},
		{"token"},
	} {
		out, err := runWith(t, keys, args...)
		if !errors.Is(err, servicetoken.ErrNoSigningKeys) || !strings.HasPrefix(err.Error(), args[0]) || out != "" {
			t.Fatalf("%q: out %q err %v; want the error, prefixed with the command, and no output", args, out, err)
		}
	}
}

func TestLoadConfigForAnEmulator(t *testing.T) {
	cfg, err := awstool.Config(context.Background(), "http://127.0.0.1:4566", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "us-east-1" || aws.ToString(cfg.BaseEndpoint) != "http://127.0.0.1:4566" || creds.AccessKeyID != "test" {
		t.Fatalf("region %s endpoint %s key %s", cfg.Region, aws.ToString(cfg.BaseEndpoint), creds.AccessKeyID)
	}
}

// Against a real emulator when there is one: the wiring, end to end.
func TestKeytoolOnEmulator(t *testing.T) {
	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	if endpoint == "" {
		if os.Getenv("SHOP_REQUIRE_EMULATOR") == "1" {
			t.Fatal("SHOP_REQUIRE_EMULATOR=1 but AWS_ENDPOINT_URL is not set")
		}
		t.Skip("integration test: set AWS_ENDPOINT_URL to a running emulator (make test does)")
	}
	prefix := fmt.Sprintf("kt%d", time.Now().UnixNano()%1e12)
	ctx := context.Background()
	keys, err := connectAWS(ctx, endpoint, prefix, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	clients := keys.(*awsKeys)
	t.Cleanup(func() {
		for _, svc := range []string{"users", "operator"} {
			_, _ = clients.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(naming.SigningSecret(prefix, svc)), ForceDeleteWithoutRecovery: aws.Bool(true)})
		}
		_, _ = clients.ssm.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(naming.JWKSParameter(prefix))})
	})
	cli := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if err := run(ctx, append([]string{"-prefix", prefix, "-manifests", repoRoot}, args...), &stdout, &stderr, os.Getenv, connectAWS); err != nil {
			t.Fatalf("keytool %q: %v (stderr %s)", args, err, stderr.String())
		}
		return stdout.String()
	}
	want := fmt.Sprintf("issuer %[1]s-users created\nissuer %[1]s-operator created\n", prefix)
	if out := cli("ensure", "-services", "users,operator"); out != want {
		t.Fatalf("ensure: %q, want %q", out, want)
	}
	want = fmt.Sprintf("issuer %[1]s-users unchanged\nissuer %[1]s-operator unchanged\n", prefix)
	if out := cli("ensure", "-services", "users,operator"); out != want {
		t.Fatalf("second ensure: %q, want %q", out, want)
	}
	tok := strings.TrimSpace(cli("token", "-scopes", "inventory:write"))
	cfg, err := awstool.Config(ctx, endpoint, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	src := ssmkeys.NewSSMKeySource(cfg, naming.JWKSParameter(prefix), time.Minute)
	if _, err := servicetoken.NewVerifier(src, naming.Audience(prefix)).Verify(ctx, tok, "inventory:write"); err != nil {
		t.Fatalf("token from keytool: %v", err)
	}
	newKID := strings.TrimSpace(cli("rotate", "-services", "operator"))
	if !strings.HasPrefix(newKID, prefix+"-operator-") {
		t.Fatalf("rotate printed %q", newKID)
	}
}
