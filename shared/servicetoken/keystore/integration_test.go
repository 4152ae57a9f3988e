package keystore

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/servicetoken"
	"github.com/shop-serverless/shop/shared/servicetoken/internal/awstest"
	"github.com/shop-serverless/shop/shared/servicetoken/ssmkeys"
)

func TestKeyLifecycleOnEmulator(t *testing.T) {
	sm, ssmAPI, prefix := awstest.EmulatorClients(t, "users", "operator")
	testKeyLifecycle(t, sm, ssmAPI, prefix)

	// The parameter is what verifiers read: a String holding a JWK Set.
	out, err := ssmAPI.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(naming.JWKSParameter(prefix))})
	if err != nil {
		t.Fatal(err)
	}
	if out.Parameter.Type != "String" {
		t.Fatalf("JWKS parameter type %s, want String", out.Parameter.Type)
	}
	set, err := servicetoken.ParseJWKS([]byte(aws.ToString(out.Parameter.Value)))
	if err != nil || len(set) != 2 {
		t.Fatalf("JWKS %v, %v; want the operator key and users' second key", set, err)
	}
}

func TestEnsureIssuerOnEmulatorFillsAnEmptySecret(t *testing.T) {
	sm, ssmAPI, prefix := awstest.EmulatorClients(t, "users")
	ctx := context.Background()
	// As Terraform leaves it: the secret exists, with no value yet.
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(naming.SigningSecret(prefix, "users"))}); err != nil {
		t.Fatal(err)
	}
	created, err := EnsureIssuer(ctx, sm, ssmkeys.NewJWKSStore(ssmAPI, naming.JWKSParameter(prefix)), prefix, "users", policyOf("users"))
	if err != nil || !created {
		t.Fatalf("EnsureIssuer = %v, %v; want created", created, err)
	}
	signer, err := LoadSigner(ctx, sm, prefix, "users")
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := signer.Issue(servicetoken.KindUser, "user-1", []string{naming.Audience(prefix)}, nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	v := servicetoken.NewVerifier(ssmkeys.NewSSMKeySource(ssmAPI, naming.JWKSParameter(prefix), 0), naming.Audience(prefix),
		servicetoken.WithUserIssuer(naming.Issuer(prefix, "users")))
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}
