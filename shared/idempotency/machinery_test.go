package idempotency

import (
	"context"
	"testing"

	"github.com/shop-serverless/shop/shared/store/storetest"
)

// Idempotency keys and records are the platform's bookkeeping: a crash or
// throttle fault (shared/faults) never acts on them, only on the
// handler's own writes.
func TestRecordsAreMachinery(t *testing.T) {
	probe := &storetest.MachineryProbe{}
	m := New(probe, "orders", Options{Scope: "orders-create"})
	_, _, _ = m.acquire(context.Background(), "IDEMPOTENCY#k", "hash", "lock")
	m.release(context.Background(), "IDEMPOTENCY#k", "lock")
	probe.WantAllMachinery(t)
}
