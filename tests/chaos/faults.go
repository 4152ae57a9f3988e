package main

import (
	"context"
	"fmt"
	"time"

	"github.com/shop-serverless/shop/shared/faults"
)

// faultPlan is one fault the run switches on: keyed to one order (a saga
// step, a consumer and a relay pass the order id, or the event's subject,
// which is the order id; an HTTP function the request's Idempotency-Key),
// confined to a path, or for every call; time-boxed by For from when it
// is switched on, so the run also shows the recovery. A keyed crash
// happens once (the crashing process clears it), so its For is only a
// bound.
type faultPlan struct {
	Kind     string
	Service  string // whose table holds the switch
	Function string // manifest name
	Mode     string
	Latency  time.Duration
	For      time.Duration
	Path     string
	Rate     float64 // 0: every matching call
	keyed    bool    // Key = the order's id (a step's, a consumer's, a relay's key)
	byIdem   bool    // Key = the order's Idempotency-Key (an HTTP function's key)
}

// The keyed faults, one order each, placed first (while there is stock, so
// every step they aim at runs).
var keyedFaults = []faultPlan{
	{Kind: "crash after write (orders-create)", Service: "orders", Function: "orders-create", Mode: faults.ModeCrash, For: 30 * time.Second, byIdem: true},
	{Kind: "crash after write (step)", Service: "inventory", Function: "inventory-reserve", Mode: faults.ModeCrash, For: 30 * time.Second, keyed: true},
	{Kind: "crash after write (step)", Service: "payments", Function: "payments-charge", Mode: faults.ModeCrash, For: 30 * time.Second, keyed: true},
	{Kind: "crash mid-batch (consumer)", Service: "notifications", Function: "notifications-notify", Mode: faults.ModeCrash, For: 30 * time.Second, keyed: true},
	{Kind: "throttling (step)", Service: "inventory", Function: "inventory-reserve", Mode: faults.ModeThrottle, For: 2 * time.Second, keyed: true},
	{Kind: "throttling (step)", Service: "payments", Function: "payments-charge", Mode: faults.ModeThrottle, For: 4 * time.Second, keyed: true},
	// Longer than the Task's TimeoutSeconds (15 s) and the function's own
	// timeout (10 s), over before the retry (it applies when a call begins).
	// On orders-mark-confirmed, the one step that applies its switch
	// before the contract's wiring gives every step one.
	{Kind: "step timeout", Service: "orders", Function: "orders-mark-confirmed", Mode: faults.ModeLatency, Latency: 16 * time.Second, For: 8 * time.Second, keyed: true},
	{Kind: "step failing (compensated)", Service: "orders", Function: "orders-mark-confirmed", Mode: faults.ModeError, For: time.Minute, keyed: true},
	// Past the relay's failing window, which holds the order's events back.
	{Kind: "consumer failing", Service: "notifications", Function: "notifications-notify", Mode: faults.ModeError, For: 30 * time.Second, keyed: true},
	{Kind: "relay failing (order)", Service: "orders", Function: "orders-relay", Mode: faults.ModeError, For: 5 * time.Second, keyed: true},
}

// The faults for every call, switched on while orders are being placed.
var windowFaults = []faultPlan{
	{Kind: "relay failing", Service: "orders", Function: "orders-relay", Mode: faults.ModeError, For: 6 * time.Second},
	{Kind: "crash after write (orders-create)", Service: "orders", Function: "orders-create", Mode: faults.ModeCrash, For: 1500 * time.Millisecond, Path: "/v1/orders"},
	// A share of every call, for a while, on a step and on a consumer.
	{Kind: "throttling (rated)", Service: "inventory", Function: "inventory-reserve", Mode: faults.ModeThrottle, Rate: 0.2, For: 5 * time.Second},
	{Kind: "crash mid-batch (rated)", Service: "notifications", Function: "notifications-notify", Mode: faults.ModeCrash, Rate: 0.1, For: 5 * time.Second},
}

// switchOn sets p (for the order, if keyed) and says what happened.
func (r *runner) switchOn(ctx context.Context, p faultPlan, orderID, idemKey string) Fault {
	f := faults.Fault{Mode: p.Mode, Latency: p.Latency, Path: p.Path, Rate: p.Rate, Until: time.Now().Add(p.For)}
	target := p.Path
	switch {
	case p.keyed:
		f.Key, target = orderID, orderID
	case p.byIdem:
		f.Key, target = idemKey, orderID
	}
	rec := Fault{Kind: p.Kind, Function: p.Function, Target: target}
	table := r.s.table(p.Service)
	if err := faults.Set(ctx, r.s.db, table, p.Function, f); err != nil {
		rec.Note = err.Error()
		return rec
	}
	rec.Injected = true
	r.mu.Lock()
	r.cleanups = append(r.cleanups, func(ctx context.Context) error {
		return faults.ClearKey(ctx, r.s.db, table, p.Function, f.Key)
	})
	r.mu.Unlock()
	return rec
}

func (f Fault) String() string { return fmt.Sprintf("%s on %s (%s)", f.Kind, f.Function, f.Target) }
