package stepfn

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestHelperProcess is the step a test starts as a process of its own:
// Start does not return while it serves.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("STEPFN_HELPER") != "1" {
		t.Skip("helper process")
	}
	Start("orders:saga", func(d Deps) (func(context.Context, struct{ N int }) (int, error), error) {
		if d.Faults == nil || d.DB == nil || d.Config.Table == "" {
			return nil, fmt.Errorf("incomplete deps: %+v", d)
		}
		return func(_ context.Context, in struct{ N int }) (int, error) { return in.N + 1, nil }, nil
	})
}

// On Knative a step is served behind its caller check: no token, no call.
func TestStartGuardsTheStepOnKnative(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "STEPFN_HELPER=1", fmt.Sprintf("PORT=%d", port),
		"SHOP_PREFIX=t", "SHOP_SERVICE=orders", "SHOP_FUNCTION=orders-step", "SHOP_TABLE=t-orders",
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x", "AWS_ENDPOINT_URL=http://127.0.0.1:1")
	cmd.Env = slices.DeleteFunc(cmd.Env, func(kv string) bool { return strings.HasPrefix(kv, "AWS_LAMBDA_RUNTIME_API=") })
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Post(url, "application/json", strings.NewReader(`{"N":1}`))
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d without a token, want 401", resp.StatusCode)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the step did not serve within 10 s: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
