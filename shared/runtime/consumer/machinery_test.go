package consumer

import (
	"context"
	"errors"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/shared/store/storetest"
)

// A consumer's claims are the platform's bookkeeping: a crash or throttle
// fault (shared/faults) never acts on them, only on the handler's writes.
func TestClaimsAreMachinery(t *testing.T) {
	probe := &storetest.MachineryProbe{}
	c := NewClaims(probe, "orders", "orders-user-updated")
	e := event.New()
	e.SetID("evt-1")
	e.SetSource("shop.users")
	e.SetType("user.updated")
	if err := c.Once(context.Background(), e, func(context.Context, event.Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := c.Once(context.Background(), e, func(context.Context, event.Event) error { return errors.New("failed") }); err == nil {
		t.Fatal("a failing handler's error was lost")
	}
	probe.WantAllMachinery(t) // claim, complete; claim, release
}
