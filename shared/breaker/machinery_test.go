package breaker

import (
	"context"
	"testing"
	"time"

	"github.com/shop-serverless/shop/shared/store/storetest"
)

// Breaker state is the platform's bookkeeping: a crash or throttle fault
// (shared/faults) never acts on it.
func TestSharedStateIsMachinery(t *testing.T) {
	probe := &storetest.MachineryProbe{}
	s := NewShared(probe, "platform")
	now := time.Now()
	_, _ = s.load(context.Background(), "users")
	_, _ = s.publishOpen(context.Background(), "users", now.Add(time.Second), now)
	probe.WantAllMachinery(t)
}
