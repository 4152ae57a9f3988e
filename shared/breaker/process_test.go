package breaker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/store"
	"github.com/shop-serverless/shop/shared/store/storetest"
)

// Two separate function processes observe the same open breaker: the test
// binary runs itself twice (TestHelperProcess), as an "observer" instance
// that keeps calling a healthy dependency and a "tripper" instance whose
// calls fail until its breaker trips. The observer must refuse calls within
// 5 s of the trip, having learnt it only through the platform table.

const (
	helperModeEnv  = "BREAKER_TEST_HELPER" // observe | trip
	helperTableEnv = "BREAKER_TEST_TABLE"
)

func TestTwoProcessesObserveTheSameOpenBreaker(t *testing.T) {
	_, table := storetest.Table(t, "platform")

	observer := helperProcess(t, "observe", table)
	out, err := observer.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	observer.Stderr = os.Stderr
	if err := observer.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = observer.Process.Kill(); _ = observer.Wait() })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLine(t, lines, "ready", 30*time.Second)

	tripper := helperProcess(t, "trip", table)
	tripOut, err := tripper.CombinedOutput()
	if err != nil || !strings.Contains(string(tripOut), "tripped") {
		t.Fatalf("tripper process: %v\n%s", err, tripOut)
	}
	tripped := time.Now()

	line := waitLine(t, lines, "open", 10*time.Second)
	elapsed := time.Since(tripped)
	if elapsed > 5*time.Second {
		t.Errorf("the observer process refused calls %v after the trip, want within 5 s", elapsed)
	}
	t.Logf("observer process: %q, %v after the tripper process exited", line, elapsed)
}

func helperProcess(t *testing.T, mode, table string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	// storetest has put the emulator's endpoint, region and credentials in
	// this process's environment; the children inherit them.
	cmd.Env = append(os.Environ(), helperModeEnv+"="+mode, helperTableEnv+"="+table)
	return cmd
}

// waitLine returns the first line starting with prefix.
func waitLine(t *testing.T, lines <-chan string, prefix string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("observer process ended before saying %q", prefix)
			}
			if strings.HasPrefix(line, prefix) {
				return line
			}
			if strings.HasPrefix(line, "error") {
				t.Fatalf("observer process: %s", line)
			}
		case <-deadline:
			t.Fatalf("observer process did not say %q within %v", prefix, timeout)
		}
	}
}

// TestHelperProcess is one function instance of the two-process test; it
// does nothing unless that test started it.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperModeEnv)
	if mode == "" {
		return
	}
	os.Exit(runHelper(mode, os.Getenv(helperTableEnv)))
}

func runHelper(mode, table string) int {
	ctx := context.Background()
	db, err := store.NewDynamoDB(ctx)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	// Production defaults, SharedRefresh included; only the trip threshold
	// is lowered to keep the test short.
	b := New(Settings{Name: "users", MinRequests: 2, OpenTimeout: 30 * time.Second}, NewShared(db, table))
	switch mode {
	case "trip":
		for i := 0; i < 10; i++ {
			if err := b.Execute(ctx, fail); errors.Is(err, ErrOpen) {
				fmt.Println("tripped")
				return 0
			}
		}
		fmt.Println("error: never tripped")
		return 1
	case "observe":
		calls := 0
		for start := time.Now(); time.Since(start) < 60*time.Second; time.Sleep(50 * time.Millisecond) {
			err := b.Execute(ctx, func(context.Context) error { calls++; return nil })
			switch {
			case errors.Is(err, ErrOpen):
				fmt.Printf("open after %d calls: %v\n", calls, err)
				return 0
			case err != nil:
				fmt.Println("error:", err)
				return 1
			case calls == 1:
				fmt.Println("ready")
			}
		}
		fmt.Println("error: never saw the breaker open")
		return 1
	}
	fmt.Println("error: unknown mode", mode)
	return 1
}
