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
	"github.com/shop-serverless/shop/shared/servicetoken/jwksstore"
	"github.com/shop-serverless/shop/shared/servicetoken/ssmkeys"
)

func TestKeyLifecycleOnEmulator(t *testing.T) {
	emu := awstest.NewEmulator(t, "users", "operator")
	// Verifiers read the parameter as a function does: a signed
	// GetParameter with the config shared/awsconfig builds.
	testKeyLifecycle(t, emu.SM, emu.SSM, ssmkeys.NewReader(emu.Config), emu.Prefix)

	// The parameter is what verifiers read: a String holding a JWK Set.
	out, err := emu.SSM.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(naming.JWKSParameter(emu.Prefix))})
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
	emu := awstest.NewEmulator(t, "users")
	ctx := context.Background()
	// As Terraform leaves it: the secret exists, with no value yet.
	if _, err := emu.SM.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(naming.SigningSecret(emu.Prefix, "users"))}); err != nil {
		t.Fatal(err)
	}
	created, err := EnsureIssuer(ctx, emu.SM, jwksstore.New(emu.SSM, naming.JWKSParameter(emu.Prefix)), emu.Prefix, "users", policyOf("users"))
	if err != nil || !created {
		t.Fatalf("EnsureIssuer = %v, %v; want created", created, err)
	}
	signer, err := LoadSigner(ctx, emu.SM, emu.Prefix, "users")
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := signer.Issue(servicetoken.KindUser, "user-1", []string{naming.Audience(emu.Prefix)}, nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	v := servicetoken.NewVerifier(ssmkeys.NewSSMKeySource(emu.Config, naming.JWKSParameter(emu.Prefix), 0), naming.Audience(emu.Prefix),
		servicetoken.WithUserIssuer(naming.Issuer(emu.Prefix, "users")))
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}
