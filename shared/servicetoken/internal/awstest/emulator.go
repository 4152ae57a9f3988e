package awstest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/testenv"
)

// Emulator is what an integration test talks to: the config functions
// build their clients from (shared/awsconfig), real clients of both
// services, and a prefix of the test's own.
type Emulator struct {
	Config aws.Config
	SM     *secretsmanager.Client
	SSM    *ssm.Client
	Prefix string
}

// NewEmulator returns the emulator's clients and a fresh prefix, whose
// secrets (of services) and JWKS parameter are deleted when the test ends.
func NewEmulator(t *testing.T, services ...string) Emulator {
	t.Helper()
	testenv.RequireEmulator(t)
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
			if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(name), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil && !awserr.HasCode(err, "ResourceNotFoundException") {
				t.Logf("delete secret %s: %v", name, err)
			}
		}
		param := naming.JWKSParameter(prefix)
		if _, err := ssmAPI.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(param)}); err != nil && !awserr.HasCode(err, "ParameterNotFound") {
			t.Logf("delete parameter %s: %v", param, err)
		}
	})
	return Emulator{Config: cfg, SM: sm, SSM: ssmAPI, Prefix: prefix}
}
