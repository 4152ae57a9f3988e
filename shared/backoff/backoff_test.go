package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestJitteredDoublesWithinHalfAndWhole(t *testing.T) {
	base, limit := 100*time.Millisecond, time.Second
	for n, step := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		step *= time.Millisecond
		for range 200 {
			if d := Jittered(base, limit, n); d < step/2 || d > step {
				t.Fatalf("retry %d: %v outside [%v, %v]", n, d, step/2, step)
			}
		}
	}
	if d := Jittered(base, limit, 200); d < limit/2 || d > limit {
		t.Fatalf("a shift past the width gave %v", d)
	}
}

func TestSleepEndsWithItsContext(t *testing.T) {
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Fatalf("Sleep on a cancelled context: %v after %v", err, time.Since(start))
	}
}
