package consumer

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/shared/manifest"
)

// TestHelperProcess is the consumer a test starts as a process of its own:
// Start does not return while it serves.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("CONSUMER_HELPER") != "1" {
		t.Skip("helper process")
	}
	Start("notifications:deliver", func(d Deps) (Handler, error) {
		if d.DB == nil || d.Config.Table == "" || d.Config.Function == "" {
			return nil, fmt.Errorf("incomplete deps: %+v", d)
		}
		return func(context.Context, event.Event) error { return nil }, nil
	})
}

func helperEnv(extra ...string) []string {
	env := append(os.Environ(), "CONSUMER_HELPER=1",
		"SHOP_PREFIX=t", "SHOP_SERVICE=notifications", "SHOP_FUNCTION=notifications-notify", "SHOP_TABLE=t-notifications",
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x", "AWS_ENDPOINT_URL=http://127.0.0.1:1")
	env = slices.DeleteFunc(env, func(kv string) bool {
		return strings.HasPrefix(kv, "AWS_LAMBDA_RUNTIME_API=") || strings.HasPrefix(kv, "SHOP_QUEUE_URL=")
	})
	return append(env, extra...)
}

// On Knative a consumer is served behind its caller check: no token, no event.
func TestStartGuardsTheReceiverOnKnative(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = helperEnv(fmt.Sprintf("PORT=%d", port))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Post(url, "application/cloudevents+json", strings.NewReader(created(t, "e1")))
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d without a token, want 401", resp.StatusCode)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the consumer did not serve within 10 s: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// On Lambda a consumer without its queue binding cannot back off: it must
// not start.
func TestStartOnLambdaNeedsItsQueue(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = helperEnv("AWS_LAMBDA_RUNTIME_API=127.0.0.1:1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "SHOP_QUEUE_URL") {
		t.Fatalf("started without SHOP_QUEUE_URL: %v\n%s", err, out)
	}
}

// The variable is the manifest's (the binding the deployment sets), named
// here again so that functions do not link the manifest loader.
func TestQueueVariableIsTheManifests(t *testing.T) {
	f, _ := reflect.TypeFor[Env]().FieldByName("QueueURL")
	if got := strings.Split(f.Tag.Get("env"), ",")[0]; got != manifest.EnvQueueURL {
		t.Errorf("Env.QueueURL reads %s, the deployment sets %s", got, manifest.EnvQueueURL)
	}
}
