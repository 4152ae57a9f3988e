package servicetoken

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/naming"
)

// requireEmulator skips (or, under make test, fails) a test that has no
// emulator; the pattern of shared/store/storetest, which this package
// cannot import without pulling DynamoDB into every token verifier's tests.
func requireEmulator(t testing.TB) {
	t.Helper()
	if os.Getenv("AWS_ENDPOINT_URL") != "" {
		if os.Getenv("AWS_REGION") == "" {
			t.Setenv("AWS_REGION", "us-east-1")
		}
		if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
			t.Setenv("AWS_ACCESS_KEY_ID", "test")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
		}
		return
	}
	if os.Getenv("SHOP_REQUIRE_EMULATOR") == "1" {
		t.Fatal("SHOP_REQUIRE_EMULATOR=1 but AWS_ENDPOINT_URL is not set")
	}
	t.Skip("integration test: set AWS_ENDPOINT_URL to a running emulator (make test does)")
}

// emulatorClients returns real clients and a prefix of its own, whose
// secrets and JWKS parameter are deleted when the test ends.
func emulatorClients(t *testing.T, services ...string) (*secretsmanager.Client, *ssm.Client, string) {
	t.Helper()
	requireEmulator(t)
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sm, ssmAPI := secretsmanager.NewFromConfig(cfg), ssm.NewFromConfig(cfg)
	prefix := fmt.Sprintf("test-%d", time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		for _, svc := range services {
			name := naming.SigningSecret(prefix, svc)
			if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(name), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil && !hasErrorCode(err, "ResourceNotFoundException") {
				t.Logf("delete secret %s: %v", name, err)
			}
		}
		param := naming.JWKSParameter(prefix)
		if _, err := ssmAPI.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(param)}); err != nil && !hasErrorCode(err, "ParameterNotFound") {
			t.Logf("delete parameter %s: %v", param, err)
		}
	})
	return sm, ssmAPI, prefix
}

func TestKeyLifecycleOnEmulator(t *testing.T) {
	sm, ssmAPI, prefix := emulatorClients(t, "users", "operator")
	testKeyLifecycle(t, sm, ssmAPI, prefix)

	// The parameter is what verifiers read: a String holding a JWK Set.
	out, err := ssmAPI.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(naming.JWKSParameter(prefix))})
	if err != nil {
		t.Fatal(err)
	}
	if out.Parameter.Type != "String" {
		t.Fatalf("JWKS parameter type %s, want String", out.Parameter.Type)
	}
	set, err := ParseJWKS([]byte(aws.ToString(out.Parameter.Value)))
	if err != nil || len(set) != 2 {
		t.Fatalf("JWKS %v, %v; want the operator key and users' second key", set, err)
	}
}

func TestEnsureIssuerOnEmulatorFillsAnEmptySecret(t *testing.T) {
	sm, ssmAPI, prefix := emulatorClients(t, "users")
	ctx := context.Background()
	// As Terraform leaves it: the secret exists, with no value yet.
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(naming.SigningSecret(prefix, "users"))}); err != nil {
		t.Fatal(err)
	}
	created, err := EnsureIssuer(ctx, sm, ssmAPI, prefix, "users")
	if err != nil || !created {
		t.Fatalf("EnsureIssuer = %v, %v; want created", created, err)
	}
	signer, err := LoadSigner(ctx, sm, prefix, "users")
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := signer.Issue(KindService, "users", []string{naming.Audience(prefix)}, nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	v := NewVerifier(NewSSMKeySource(ssmAPI, naming.JWKSParameter(prefix), 0), naming.Audience(prefix))
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}
