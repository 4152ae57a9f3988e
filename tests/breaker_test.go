package tests

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/faults"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/store"
)

const breakerOpenTimeout = 8 * time.Second

// startCaller builds (once) and starts one instance of the caller fixture,
// a stand-in for a service that reads users through shared/client with a
// shared circuit breaker, and returns its base URL. The process is stopped
// when the test ends.
func startCaller(t *testing.T, bin, breakerName string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	env := strings.ToUpper(strings.ReplaceAll(breakerName, "-", "_"))
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		fmt.Sprintf("PORT=%d", port),
		"SHOP_PREFIX="+prefix(),
		"USERS_URL="+apiURL(t),
		"BREAKER_NAME="+breakerName,
		"BREAKER_"+env+"_MIN_REQUESTS=3",
		"BREAKER_"+env+"_FAILURE_RATIO=0.5",
		"BREAKER_"+env+"_OPEN_TIMEOUT="+breakerOpenTimeout.String(),
		"LOG_LEVEL=warn",
	)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			return base
		}
		if time.Now().After(deadline) {
			t.Fatal("caller did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func getStatus(t *testing.T, url string) (int, http.Header) {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// TestBreakerAcrossInstances: make the users service fail, watch a calling
// service's breaker open and fail fast with 503 + Retry-After, see a second,
// separate instance observe the same open breaker without ever having called
// users, and both recover after the open time.
func TestBreakerAcrossInstances(t *testing.T) {
	t.Parallel()
	email := uniqueEmail(t)
	u, r := register(t, email)
	expect(t, r, http.StatusCreated)

	bin := filepath.Join(t.TempDir(), "caller")
	build := exec.Command("go", "build", "-o", bin, "./testdata/caller")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build caller: %v\n%s", err, out)
	}
	// A breaker of this test's own, shared by its two instances: the
	// stack's "users" breaker serves orders-create, which other tests use.
	name := fmt.Sprintf("users-e2e-%d", time.Now().UnixNano())
	a, b := startCaller(t, bin, name), startCaller(t, bin, name)
	secrets(t) // fails or skips early without the emulator endpoint
	db, err := store.NewDynamoDB(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	usersTable := naming.Table(prefix(), "users")
	ctx := context.Background()
	holdFaultSwitch(t, usersTable, "users-get")
	t.Cleanup(func() { _ = faults.Clear(context.Background(), db, usersTable, "users-get") })

	if status, _ := getStatus(t, a+"/users/"+u.ID); status != http.StatusOK {
		t.Fatalf("healthy users: caller answered %d", status)
	}

	// users-get now fails for this user (the switch is honoured because the
	// local deployer sets SHOP_FAULTS=1; its cache holds for a second). Only
	// for this user: the other tests, running in parallel, use users-get too.
	broken := faults.Fault{Mode: faults.ModeError, Status: http.StatusServiceUnavailable, Path: "/v1/users/" + u.ID}
	if err := faults.Set(ctx, db, usersTable, "users-get", broken); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)

	opened := false
	for range 10 {
		status, h := getStatus(t, a+"/users/"+u.ID)
		if status != http.StatusServiceUnavailable {
			t.Fatalf("failing users: caller answered %d, want 503", status)
		}
		if state := breakerState(t, a); state == "open" {
			if h.Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			opened = true
			break
		}
	}
	if !opened {
		t.Fatal("the breaker never opened")
	}

	// users is healthy again, so any 503 from now on comes from the breaker
	// failing fast, not from users.
	if err := faults.Clear(ctx, db, usersTable, "users-get"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	openedAt := time.Now()
	status, h := getStatus(t, a+"/users/"+u.ID)
	if status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Fatalf("open breaker, instance A: %d (Retry-After %q), want a fast 503", status, h.Get("Retry-After"))
	}
	// Instance B never saw a failure itself; it fails fast on the shared state.
	status, h = getStatus(t, b+"/users/"+u.ID)
	if status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Fatalf("open breaker, instance B: %d (Retry-After %q), want 503 from the shared state", status, h.Get("Retry-After"))
	}

	// After the open time one probe goes through, succeeds, and closes the
	// breaker for both instances.
	time.Sleep(time.Until(openedAt.Add(breakerOpenTimeout + time.Second)))
	deadline := time.Now().Add(10 * time.Second)
	for _, inst := range []string{a, b} {
		for {
			status, _ := getStatus(t, inst+"/users/"+u.ID)
			if status == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("instance %s did not recover: %d", inst, status)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func breakerState(t *testing.T, inst string) string {
	t.Helper()
	resp, err := httpClient.Get(inst + "/breaker")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ State string }
	if err := jsonDecode(resp, &body); err != nil {
		t.Fatal(err)
	}
	return strings.ToLower(body.State)
}

// holdFaultSwitch makes this test the only user of function's fault switch
// on table until it ends, across every run of the suite on this machine.
// The switch is one item per function in the table (shared/faults), read
// by every process of that function on those tables: the Lambda functions
// and, when tests/knative runs the suite at the same time (make test does),
// its Knative processes. Two runs setting their own fault at once would
// overwrite each other's, and each would see the other's answers.
func holdFaultSwitch(t *testing.T, table, function string) {
	t.Helper()
	sum := sha256.Sum256([]byte(os.Getenv("AWS_ENDPOINT_URL") + "\x00" + table + "\x00" + function))
	f, err := os.OpenFile(filepath.Join(os.TempDir(), fmt.Sprintf("shop-fault-%x.lock", sum[:8])), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if waited := time.Since(began); waited > 100*time.Millisecond {
		t.Logf("waited %v for another run's fault on %s to end", waited.Round(time.Millisecond), function)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
}
