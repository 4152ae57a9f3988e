// Package testenv tells integration tests whether the local emulator is
// there, with one rule for every package:
//
//	testenv.RequireEmulator(t)
//
// Tests need AWS_ENDPOINT_URL pointing at the emulator (make test sets it).
// Without it they skip, unless SHOP_REQUIRE_EMULATOR=1 (also set by make
// test), where a missing emulator fails the test: a skipped integration test
// must never pass for a green run. It imports nothing of the AWS SDK, so any
// package's tests can use it.
package testenv

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// RequireEmulator skips (or, under make test, fails) a test that has no
// emulator, and fills in the region and test credentials it accepts.
func RequireEmulator(t testing.TB) {
	t.Helper()
	present, required := emulator(t.Setenv)
	switch {
	case present:
	case required:
		t.Fatal("SHOP_REQUIRE_EMULATOR=1 but AWS_ENDPOINT_URL is not set")
	default:
		t.Skip("integration test: set AWS_ENDPOINT_URL to a running emulator (make test does)")
	}
}

// UseEmulator is RequireEmulator for a whole test binary, in TestMain: it
// fills in the region and test credentials in the process environment
// (parallel tests may not call t.Setenv), and reports whether an emulator
// is configured and whether its absence is a failure (SHOP_REQUIRE_EMULATOR=1).
func UseEmulator() (present, required bool) {
	return emulator(func(k, v string) { _ = os.Setenv(k, v) })
}

// emulator is the one rule: an emulator is there when AWS_ENDPOINT_URL is
// set, and then setenv fills in what the environment lacks.
func emulator(setenv func(k, v string)) (present, required bool) {
	required = os.Getenv("SHOP_REQUIRE_EMULATOR") == "1"
	if os.Getenv("AWS_ENDPOINT_URL") == "" {
		return false, required
	}
	if os.Getenv("AWS_REGION") == "" {
		setenv("AWS_REGION", "us-east-1")
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		setenv("AWS_ACCESS_KEY_ID", "test")
		setenv("AWS_SECRET_ACCESS_KEY", "test")
	}
	return true, required
}

// ForbidDeps fails the test for each package that pkg (an import path, or
// "." for the test's own package) depends on and that is, or lies under,
// one of banned. Cold start pays the init of every package a function
// links, so a package kept out on purpose gets this test. It also fails if
// go list reports too little to prove anything.
func ForbidDeps(t testing.TB, pkg string, banned ...string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps %s printed %d packages; the check would prove nothing", pkg, len(deps))
	}
	for _, dep := range deps {
		for _, b := range banned {
			if dep == b || strings.HasPrefix(dep, b+"/") {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}

// OwnEmulator starts a MiniStack of the test's own on a free port (with
// localstack/ministack.sh under repoRoot, so with its trace collector),
// points the test and every command it runs at it (AWS_ENDPOINT_URL), and
// stops it when the test ends, after the test's own cleanups. It returns
// the port. A test that sets faults for every caller, or that must not be
// slowed by the rest of make test, runs on one.
func OwnEmulator(t *testing.T, repoRoot string) (port string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	script := filepath.Join(repoRoot, "localstack", "ministack.sh")
	ministack := func(action string) ([]byte, error) {
		cmd := exec.Command(script, action)
		cmd.Env = append(os.Environ(), "GATEWAY_PORT="+port)
		return cmd.CombinedOutput()
	}
	if out, err := ministack("start"); err != nil {
		t.Fatalf("start an emulator of the test's own on port %s: %v\n%s", port, err, out)
	}
	t.Cleanup(func() {
		if out, err := ministack("stop"); err != nil {
			t.Errorf("stop the emulator on port %s: %v\n%s", port, err, out)
		}
	})
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:"+port)
	return port
}
