package main

import (
	"strings"
	"testing"
	"time"
)

// good is a run that keeps every invariant: one order confirmed, one
// declined, one cancelled by its user after its charge, one out of stock
// submitted twice with its key, one poison event in a DLQ.
func good() Snapshot {
	t0 := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	return Snapshot{
		N: 4, Deadline: time.Minute,
		Products: []Product{{ID: "p1", Initial: 3, Samples: []Stock{{3, 0, 0}, {1, 2, 0}, {1, 1, 1}}, Final: Stock{Available: 2, Sold: 1}}},
		Orders: []Order{
			{ID: "o1", UserID: "u1", Key: "k1", Lines: []Line{{"p1", 1}}, Total: 100, ResponseIDs: []string{"o1"},
				Status: "CONFIRMED", History: []string{"PENDING", "CONFIRMED"}, PlacedAt: t0, EndedAt: t0.Add(2 * time.Second),
				Executions: 1, Payment: &Payment{"CHARGED"}, Ledger: &Ledger{Status: "succeeded", Amount: 100}},
			{ID: "o2", UserID: "u1", Key: "k2", Lines: []Line{{"p1", 1}}, Total: 100, ResponseIDs: []string{"o2"},
				Status: "CANCELLED", Reason: "PAYMENT_DECLINED", History: []string{"PENDING", "CANCELLED"}, PlacedAt: t0, EndedAt: t0.Add(3 * time.Second),
				Executions: 1, Payment: &Payment{"DECLINED"}, Ledger: &Ledger{Status: "declined", Amount: 100}},
			{ID: "o3", UserID: "u2", Key: "k3", Lines: []Line{{"p1", 1}}, Total: 100, ResponseIDs: []string{"o3"}, CancelAccepted: true,
				Status: "CANCELLED", Reason: "CANCELLED_BY_USER", History: []string{"PENDING", "CONFIRMED", "CANCELLED"}, PlacedAt: t0, EndedAt: t0.Add(5 * time.Second),
				Executions: 1, Payment: &Payment{"REFUNDED"}, Ledger: &Ledger{Status: "succeeded", Amount: 100, Refunds: 1, RefundedAmount: 100}},
			{ID: "o4", UserID: "u2", Key: "k4", Lines: []Line{{"p1", 5}}, Total: 500, ResponseIDs: []string{"o4", "o4"}, ClientRetries: 1,
				Status: "CANCELLED", Reason: "OUT_OF_STOCK", History: []string{"PENDING", "CANCELLED"}, PlacedAt: t0, EndedAt: t0.Add(time.Second),
				Executions: 1},
		},
		Users: []string{"u1", "u2"},
		Events: []Event{
			{"e1", typeOrderCreated, "o1"}, {"e2", typeOrderConfirmed, "o1"},
			{"e3", typeOrderCreated, "o2"}, {"e4", typeOrderCancelled, "o2"},
			{"e5", typeOrderCreated, "o3"}, {"e6", typeOrderConfirmed, "o3"}, {"e7", typeOrderCancelled, "o3"},
			{"e8", typeOrderCreated, "o4"}, {"e8", typeOrderCreated, "o4"}, // delivered twice: one event
			{"e9", typeOrderCancelled, "o4"},
		},
		Notifications: []Notification{{"u1", "e1", typeOrderCreated, "o1"}, {"u1", "e2", typeOrderConfirmed, "o1"}, {"u2", "e7", typeOrderCancelled, "o3"}},
		Poison:        []string{"poison-1"},
		DeadLetters:   []DeadLetter{{"shop-notifications-notify-dlq", "poison-1"}},
		Faults:        []Fault{{Kind: "relay failing", Function: "orders-relay", Injected: true}},
	}
}

func TestGoodRunHasNoViolation(t *testing.T) {
	if v := Check(good()); len(v) != 0 {
		t.Fatalf("violations in a good run: %v", v)
	}
}

// Every invariant can fail: each case breaks one, and the checker must say
// so under that invariant's name (a state may break others with it).
func TestEachInvariantCanFail(t *testing.T) {
	cases := []struct {
		name  string
		want  string
		spoil func(s *Snapshot)
	}{
		{"a sample loses a unit", InvStock, func(s *Snapshot) { s.Products[0].Samples[1] = Stock{1, 1, 0} }},
		{"a sample goes negative", InvStock, func(s *Snapshot) { s.Products[0].Samples[1] = Stock{-1, 4, 0} }},
		{"oversold at the end", InvStock, func(s *Snapshot) { s.Products[0].Final = Stock{Available: 1, Sold: 2} }},
		{"a reservation left", InvStock, func(s *Snapshot) { s.Products[0].Final = Stock{Available: 1, Reserved: 1, Sold: 1} }},
		{"an order still pending", InvTerminal, func(s *Snapshot) { s.Orders[3].Status = "PENDING" }},
		{"an order never stored", InvTerminal, func(s *Snapshot) { s.Orders[3].Status = "" }},
		{"an order over the deadline", InvTerminal, func(s *Snapshot) { s.Orders[3].EndedAt = s.Orders[3].PlacedAt.Add(2 * time.Minute) }},
		{"one key, two orders", InvOneOrder, func(s *Snapshot) { s.Orders[3].ResponseIDs = []string{"o4", "o5"} }},
		{"two sagas", InvOneOrder, func(s *Snapshot) { s.Orders[0].Executions = 2 }},
		{"confirmed, never charged", InvChargedOnce, func(s *Snapshot) { s.Orders[0].Ledger = nil }},
		{"confirmed, payment not charged", InvChargedOnce, func(s *Snapshot) { s.Orders[0].Payment = &Payment{"PENDING"} }},
		{"charged another amount", InvChargedOnce, func(s *Snapshot) { s.Orders[0].Ledger.Amount = 200 }},
		{"refunded twice", InvChargedOnce, func(s *Snapshot) { s.Orders[2].Ledger.Refunds = 2 }},
		{"cancelled, charged, not refunded", InvRefundedOnce, func(s *Snapshot) { s.Orders[2].Ledger.Refunds, s.Orders[2].Ledger.RefundedAmount = 0, 0 }},
		{"cancelled, refunded, payment says charged", InvRefundedOnce, func(s *Snapshot) { s.Orders[2].Payment.Status = "CHARGED" }},
		{"cancelled, never charged, refunded", InvRefundedOnce, func(s *Snapshot) { s.Orders[1].Ledger.Refunds, s.Orders[1].Ledger.RefundedAmount = 1, 100 }},
		{"cancel accepted, order confirmed", InvCancelHonored, func(s *Snapshot) { s.Orders[0].CancelAccepted = true }},
		{"no terminal event", InvTerminalEvent, func(s *Snapshot) { s.Events = s.Events[:len(s.Events)-1] }},
		{"two cancelled events", InvTerminalEvent, func(s *Snapshot) { s.Events = append(s.Events, Event{"e10", typeOrderCancelled, "o4"}) }},
		{"a confirmed event for a never confirmed order", InvTerminalEvent, func(s *Snapshot) { s.Events = append(s.Events, Event{"e11", typeOrderConfirmed, "o2"}) }},
		{"no created event", InvTerminalEvent, func(s *Snapshot) { s.Events[0].Subject = "other" }},
		{"a notification from nowhere", InvNotification, func(s *Snapshot) {
			s.Notifications = append(s.Notifications, Notification{"u1", "e99", typeOrderConfirmed, "o1"})
		}},
		{"a notification of the wrong type", InvNotification, func(s *Snapshot) { s.Notifications[0].Type = typeOrderCancelled }},
		{"one event, two notifications", InvNotification, func(s *Snapshot) { s.Notifications = append(s.Notifications, s.Notifications[0]) }},
		{"a real event in a DLQ", InvDeadLetters, func(s *Snapshot) { s.DeadLetters = append(s.DeadLetters, DeadLetter{"q", "e2"}) }},
		{"the poison missing", InvDeadLetters, func(s *Snapshot) { s.DeadLetters = nil }},
		{"the poison twice", InvDeadLetters, func(s *Snapshot) { s.DeadLetters = append(s.DeadLetters, s.DeadLetters[0]) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := good()
			c.spoil(&s)
			v := Check(s)
			for _, x := range v {
				if x.Invariant == c.want {
					return
				}
			}
			t.Fatalf("violations %v: none of %q, so the checker cannot see %q", v, c.want, c.name)
		})
	}
}

func TestReportTable(t *testing.T) {
	s := good()
	s.Faults = append(s.Faults, Fault{Kind: "crash", Function: "orders-create", Injected: false, Note: "unknown mode"})
	var b strings.Builder
	WriteReport(&b, s, Check(s), 90*time.Second)
	out := b.String()
	for _, want := range []string{"confirmed", "by OUT_OF_STOCK", "1", "faults injected", "relay failing 1", "faults refused by the stack", "crash 1", "violations", "p99"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	sum := Summarize(s)
	if sum.Confirmed != 1 || sum.Cancelled != 3 || sum.CancelledBy["CANCELLED_BY_USER"] != 1 || sum.Duplicates != 1 || sum.ClientRetries != 1 {
		t.Errorf("summary %+v", sum)
	}
	if sum.P50 != 2*time.Second || sum.P99 != 5*time.Second {
		t.Errorf("p50 %v, p99 %v, want 2s and 5s", sum.P50, sum.P99)
	}
}

func TestPercentile(t *testing.T) {
	d := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if p := percentile(d, 50); p != 5 {
		t.Errorf("p50 %v", p)
	}
	if p := percentile(d, 99); p != 10 {
		t.Errorf("p99 %v", p)
	}
	if p := percentile(nil, 50); p != 0 {
		t.Errorf("empty %v", p)
	}
}
