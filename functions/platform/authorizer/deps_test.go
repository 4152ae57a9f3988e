package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The authorizer verifies tokens on every cold start's first request; the
// SDK's SSM client would add about 1 ms of package initialisation to each
// cold start (see shared/servicetoken/ssmkeys), and it signs nothing, so
// Secrets Manager's client has no business here either.
func TestLinksNoSSMOrSecretsManagerClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list printed %d packages; the check would prove nothing", len(deps))
	}
	for _, dep := range deps {
		for _, banned := range []string{"github.com/aws/aws-sdk-go-v2/service/ssm", "github.com/aws/aws-sdk-go-v2/service/secretsmanager"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("the authorizer depends on %s", dep)
			}
		}
	}
}
