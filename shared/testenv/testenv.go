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
	"os"
	"testing"
)

// RequireEmulator skips (or, under make test, fails) a test that has no
// emulator, and fills in the region and test credentials it accepts.
func RequireEmulator(t testing.TB) {
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
