// Package backoff is how shop waits before trying again: an exponential
// wait with jitter, and a sleep that ends with its context.
//
//	for retry := 0; ; retry++ {
//		if err := try(); err == nil { break }
//		if err := backoff.Sleep(ctx, backoff.Jittered(base, max, retry)); err != nil { return err }
//	}
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Jittered is the wait before retry n (0 for the first retry): base
// doubled n times, at most limit, then "equal jitter": uniform between half
// of it and all of it. Callers failing together drift apart, and none waits
// less than half its step.
func Jittered(base, limit time.Duration, n int) time.Duration {
	d := limit
	if n < 62 {
		if step := base << n; step > 0 && step < limit {
			d = step
		}
	}
	return d/2 + rand.N(d/2+1)
}

// Sleep waits d, or returns ctx's error as soon as ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
