package main

import (
	"testing"

	"github.com/shop-serverless/shop/shared/testenv"
)

// The authorizer verifies tokens on every cold start's first request; the
// SDK's SSM client would add about 1 ms of package initialisation to each
// cold start (see shared/servicetoken/ssmkeys), and it signs nothing, so
// Secrets Manager's client has no business here either.
func TestLinksNoSSMOrSecretsManagerClient(t *testing.T) {
	testenv.ForbidDeps(t, ".", "github.com/aws/aws-sdk-go-v2/service/ssm", "github.com/aws/aws-sdk-go-v2/service/secretsmanager")
}
