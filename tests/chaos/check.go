package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// The invariant checker: pure functions over a Snapshot, which the run
// fills from the tables, executions, queues and the capture of the bus
// (snapshot.go). Each invariant has a name of its own, so the report and
// the unit tests (check_test.go) can say which one a state breaks.

// Invariant names.
const (
	InvStock         = "stock conservation"   // initial = available + reserved + sold, never negative; at rest nothing reserved and sold = confirmed
	InvTerminal      = "terminal in time"     // every order CONFIRMED or CANCELLED within the deadline
	InvOneOrder      = "one order per key"    // duplicate submissions with one Idempotency-Key give one order and one saga
	InvChargedOnce   = "charged at most once" // the provider's ledger and the payments table agree, one charge of the order's total
	InvRefundedOnce  = "refunded exactly once"
	InvCancelHonored = "accepted cancel honoured" // a cancel answered 202 ends the order CANCELLED
	InvTerminalEvent = "one terminal event"       // one order.created, one order.confirmed if it was ever confirmed, one order.cancelled if it ended so
	InvNotification  = "notification traceable"   // every notification of the run's users comes from one event the bus carried
	InvDeadLetters   = "dead letters = poison"    // the DLQs hold exactly the poison the run injected
)

// Order statuses and payment states the checker reads.
const (
	statusPending   = "PENDING"
	statusConfirmed = "CONFIRMED"
	statusCancelled = "CANCELLED"

	paymentCharged  = "CHARGED"
	paymentRefunded = "REFUNDED"

	ledgerSucceeded = "succeeded"

	typeOrderCreated   = "shop.order.created.v1"
	typeOrderConfirmed = "shop.order.confirmed.v1"
	typeOrderCancelled = "shop.order.cancelled.v1"
)

// Stock is a product's stock as the catalog shows it.
type Stock struct {
	Available, Reserved, Sold int64
}

func (s Stock) total() int64 { return s.Available + s.Reserved + s.Sold }

// Product is one product of the run: its stock at the start, every sample
// the watcher took while the run went on, and the stock at the end.
type Product struct {
	ID      string
	Initial int64
	Samples []Stock
	Final   Stock
}

// Line is one line of an order.
type Line struct {
	ProductID string
	Quantity  int64
}

// Payment is the order's item in the payments table (nil: none).
type Payment struct {
	Status string
}

// Ledger is the provider simulator's record of the order's charge (nil:
// the provider never heard of the order).
type Ledger struct {
	Status         string // "succeeded", "declined" or "" (undecided)
	Amount         int64
	Refunds        int64
	RefundedAmount int64
}

// Order is one order of the run: what the client did and saw, and what
// the tables and executions hold about it at the end.
type Order struct {
	ID     string
	UserID string
	Key    string // its Idempotency-Key
	Token  string // the payment token
	Lines  []Line
	Total  int64

	// ResponseIDs are the order ids every 202 for Key answered (several
	// for a duplicate submission); ClientRetries the requests resent
	// after a 5xx, 409 in progress or a lost answer.
	ResponseIDs    []string
	ClientRetries  int
	CancelAccepted bool // a cancel request was answered 202

	Status   string   // at the end ("" when the order was never stored)
	Reason   string   // cancel reason
	History  []string // statuses in order
	PlacedAt time.Time
	EndedAt  time.Time // the last change of its history

	Executions  int // place executions named ID
	StepRetries int // task retries in its executions' histories
	Payment     *Payment
	Ledger      *Ledger
}

// Event is one delivery the run's capture received.
type Event struct {
	ID, Type, Subject string
}

// Notification is one notification stored for a user of the run.
type Notification struct {
	UserID, EventID, Type, OrderID string
}

// DeadLetter is one message found in a dead-letter queue that belongs to
// the run (its event id is poison of the run, or it names an order, user
// or event of the run).
type DeadLetter struct {
	Queue   string
	EventID string
}

// Fault is one fault the run switched on.
type Fault struct {
	Kind     string // "crash", "throttle", "step timeout", ...
	Function string
	Target   string // the order id (keyed), the path, or "" for every call
	Injected bool   // false: the stack refused it (e.g. a mode it does not know)
	Note     string
}

// Snapshot is everything the checker looks at.
type Snapshot struct {
	N             int
	Deadline      time.Duration // how long an order may take to end
	Products      []Product
	Orders        []Order
	Users         []string
	Events        []Event
	Notifications []Notification
	Poison        []string // event ids of the poison the run put on the bus
	DeadLetters   []DeadLetter
	Faults        []Fault
	Fired         map[string]int // log lines of faults firing, by kind and function (a figure, not an invariant)
	Replayed      int            // events put on the bus again
}

// Violation is one broken invariant.
type Violation struct {
	Invariant string
	Subject   string // the order, product, event or queue
	Detail    string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s: %s: %s", v.Invariant, v.Subject, v.Detail)
}

// Check returns every violation in s, each invariant's in turn.
func Check(s Snapshot) []Violation {
	var out []Violation
	for _, check := range []func(Snapshot) []Violation{
		checkStock, checkTerminal, checkOneOrder, checkCharges, checkCancels, checkEvents, checkNotifications, checkDeadLetters,
	} {
		out = append(out, check(s)...)
	}
	return out
}

// checkStock: every sample and the final stock conserve the initial units
// and are never negative; at the end nothing is reserved and each product
// sold exactly what its CONFIRMED orders hold.
func checkStock(s Snapshot) []Violation {
	var out []Violation
	sold := map[string]int64{}
	for _, o := range s.Orders {
		if o.Status == statusConfirmed {
			for _, l := range o.Lines {
				sold[l.ProductID] += l.Quantity
			}
		}
	}
	for _, p := range s.Products {
		bad := func(st Stock) bool {
			return st.Available < 0 || st.Reserved < 0 || st.Sold < 0 || st.total() != p.Initial
		}
		for _, st := range p.Samples {
			if bad(st) {
				out = append(out, Violation{InvStock, p.ID, fmt.Sprintf("sampled %+v, want non-negative and summing to %d", st, p.Initial)})
				break // one per product: a broken count stays broken
			}
		}
		if bad(p.Final) {
			out = append(out, Violation{InvStock, p.ID, fmt.Sprintf("final %+v, want non-negative and summing to %d", p.Final, p.Initial)})
		}
		if p.Final.Reserved != 0 || p.Final.Sold != sold[p.ID] {
			out = append(out, Violation{InvStock, p.ID, fmt.Sprintf("final %+v at rest, want 0 reserved and %d sold (the confirmed orders' units)", p.Final, sold[p.ID])})
		}
	}
	return out
}

// checkTerminal: every order ended CONFIRMED or CANCELLED, within the
// deadline of its placing.
func checkTerminal(s Snapshot) []Violation {
	var out []Violation
	for _, o := range s.Orders {
		switch {
		case o.Status == "":
			out = append(out, Violation{InvTerminal, o.ID, "never stored (the client got no order for its key)"})
		case o.Status != statusConfirmed && o.Status != statusCancelled:
			out = append(out, Violation{InvTerminal, o.ID, fmt.Sprintf("still %s after %v", o.Status, s.Deadline)})
		case !o.PlacedAt.IsZero() && o.EndedAt.Sub(o.PlacedAt) > s.Deadline:
			out = append(out, Violation{InvTerminal, o.ID, fmt.Sprintf("ended %s after %v, over the deadline %v", o.Status, o.EndedAt.Sub(o.PlacedAt).Round(time.Millisecond), s.Deadline)})
		}
	}
	return out
}

// checkOneOrder: every 202 for one key named the same order, the order the
// key derives, and one place execution ran for it.
func checkOneOrder(s Snapshot) []Violation {
	var out []Violation
	for _, o := range s.Orders {
		for _, id := range o.ResponseIDs {
			if id != o.ID {
				out = append(out, Violation{InvOneOrder, o.ID, fmt.Sprintf("key %s also answered order %s", o.Key, id)})
			}
		}
		if o.Status != "" && o.Executions != 1 {
			out = append(out, Violation{InvOneOrder, o.ID, fmt.Sprintf("%d place executions, want 1", o.Executions)})
		}
	}
	return out
}

// checkCharges: the provider charged an order at most once, the order's
// total, and the payments table agrees; a CONFIRMED order is charged and
// not refunded.
func checkCharges(s Snapshot) []Violation {
	var out []Violation
	for _, o := range s.Orders {
		l, p := o.Ledger, o.Payment
		if l != nil && l.Status == ledgerSucceeded && l.Amount != o.Total {
			out = append(out, Violation{InvChargedOnce, o.ID, fmt.Sprintf("charged %d, the order's total is %d", l.Amount, o.Total)})
		}
		if l != nil && (l.Refunds > 1 || l.RefundedAmount > l.Amount) {
			out = append(out, Violation{InvChargedOnce, o.ID, fmt.Sprintf("ledger %+v: refunded more than charged", *l)})
		}
		if o.Status != statusConfirmed {
			continue
		}
		if l == nil || l.Status != ledgerSucceeded || l.Refunds != 0 {
			out = append(out, Violation{InvChargedOnce, o.ID, fmt.Sprintf("CONFIRMED, but the provider's ledger is %s", ledgerString(l))})
		}
		if p == nil || p.Status != paymentCharged {
			out = append(out, Violation{InvChargedOnce, o.ID, fmt.Sprintf("CONFIRMED, but the payment is %s", paymentString(p))})
		}
	}
	return out
}

// checkCancels: a CANCELLED order the provider charged was refunded once,
// in full, and the payments table says so; one it never charged was not
// refunded; a cancel answered 202 ended the order CANCELLED.
func checkCancels(s Snapshot) []Violation {
	var out []Violation
	for _, o := range s.Orders {
		if o.CancelAccepted && (o.Status == statusConfirmed || o.Status == statusPending) {
			out = append(out, Violation{InvCancelHonored, o.ID, fmt.Sprintf("the cancel was accepted (202), the order ended %s", o.Status)})
		}
		if o.Status != statusCancelled {
			continue
		}
		l, p := o.Ledger, o.Payment
		charged := l != nil && l.Status == ledgerSucceeded
		switch {
		case charged && (l.Refunds != 1 || l.RefundedAmount != l.Amount):
			out = append(out, Violation{InvRefundedOnce, o.ID, fmt.Sprintf("CANCELLED/%s and charged, ledger %s: want one refund of %d", o.Reason, ledgerString(l), l.Amount)})
		case charged && (p == nil || p.Status != paymentRefunded):
			out = append(out, Violation{InvRefundedOnce, o.ID, fmt.Sprintf("CANCELLED/%s, refunded by the provider, but the payment is %s", o.Reason, paymentString(p))})
		case !charged && l != nil && l.Refunds != 0:
			out = append(out, Violation{InvRefundedOnce, o.ID, fmt.Sprintf("CANCELLED/%s, never charged, but refunded: %s", o.Reason, ledgerString(l))})
		}
	}
	return out
}

// checkEvents: each order of the run has one order.created, one
// order.confirmed if it was ever CONFIRMED (none otherwise) and one
// order.cancelled if it ended CANCELLED (none otherwise), counted by
// distinct event id (a delivery again, with the same id, is the bus's at
// least once, not a second event).
func checkEvents(s Snapshot) []Violation {
	ids := map[string]map[string]map[string]bool{} // subject -> type -> ids
	for _, e := range s.Events {
		if ids[e.Subject] == nil {
			ids[e.Subject] = map[string]map[string]bool{}
		}
		if ids[e.Subject][e.Type] == nil {
			ids[e.Subject][e.Type] = map[string]bool{}
		}
		ids[e.Subject][e.Type][e.ID] = true
	}
	var out []Violation
	for _, o := range s.Orders {
		if o.Status == "" {
			continue
		}
		want := map[string]int{typeOrderCreated: 1}
		if slices.Contains(o.History, statusConfirmed) {
			want[typeOrderConfirmed] = 1
		}
		if o.Status == statusCancelled {
			want[typeOrderCancelled] = 1
		}
		for _, typ := range []string{typeOrderCreated, typeOrderConfirmed, typeOrderCancelled} {
			if got := len(ids[o.ID][typ]); got != want[typ] {
				out = append(out, Violation{InvTerminalEvent, o.ID, fmt.Sprintf("%d distinct %s events (order %s, history %v), want %d", got, typ, o.Status, o.History, want[typ])})
			}
		}
	}
	return out
}

// checkNotifications: every notification of the run's users names an
// event the bus carried, and no event made two notifications for a user.
func checkNotifications(s Snapshot) []Violation {
	carried := map[string]string{}
	for _, e := range s.Events {
		carried[e.ID] = e.Type
	}
	var out []Violation
	seen := map[[2]string]bool{}
	for _, n := range s.Notifications {
		typ, ok := carried[n.EventID]
		switch {
		case !ok:
			out = append(out, Violation{InvNotification, n.UserID, fmt.Sprintf("notification %s (%s, order %s) from an event the bus never carried", n.EventID, n.Type, n.OrderID)})
		case typ != n.Type:
			out = append(out, Violation{InvNotification, n.UserID, fmt.Sprintf("notification %s says %s, the event was %s", n.EventID, n.Type, typ)})
		}
		k := [2]string{n.UserID, n.EventID}
		if seen[k] {
			out = append(out, Violation{InvNotification, n.UserID, fmt.Sprintf("two notifications from event %s", n.EventID)})
		}
		seen[k] = true
	}
	return out
}

// checkDeadLetters: every poison event is in a DLQ, once, and nothing else
// of the run is.
func checkDeadLetters(s Snapshot) []Violation {
	var out []Violation
	poison := map[string]bool{}
	for _, id := range s.Poison {
		poison[id] = true
	}
	found := map[string]int{}
	for _, d := range s.DeadLetters {
		if !poison[d.EventID] {
			out = append(out, Violation{InvDeadLetters, d.Queue, fmt.Sprintf("holds %s, which the run did not poison: lost", d.EventID)})
			continue
		}
		found[d.EventID]++
	}
	for _, id := range s.Poison {
		if found[id] != 1 {
			out = append(out, Violation{InvDeadLetters, id, fmt.Sprintf("poison found %d times in the DLQs, want 1", found[id])})
		}
	}
	return out
}

func ledgerString(l *Ledger) string {
	if l == nil {
		return "empty"
	}
	return fmt.Sprintf("%+v", *l)
}

func paymentString(p *Payment) string {
	if p == nil {
		return "absent"
	}
	return p.Status
}

// Summary is what the report's table shows.
type Summary struct {
	Orders, Confirmed, Cancelled int
	CancelledBy                  map[string]int
	Faults                       map[string]int // injected, by kind
	Refused                      map[string]int // switched on but refused by the stack, by kind
	ClientRetries, StepRetries   int
	Duplicates                   int // orders submitted more than once with one key
	CancelsAccepted              int
	Poison, Replayed             int
	Events, Samples              int // distinct events the capture saw; stock samples taken
	P50, P99, Max                time.Duration
}

// Summarize counts s.
func Summarize(s Snapshot) Summary {
	sum := Summary{CancelledBy: map[string]int{}, Faults: map[string]int{}, Refused: map[string]int{}, Poison: len(s.Poison), Replayed: s.Replayed}
	var times []time.Duration
	for _, o := range s.Orders {
		sum.Orders++
		switch o.Status {
		case statusConfirmed:
			sum.Confirmed++
		case statusCancelled:
			sum.Cancelled++
			sum.CancelledBy[o.Reason]++
		}
		if (o.Status == statusConfirmed || o.Status == statusCancelled) && !o.PlacedAt.IsZero() {
			times = append(times, o.EndedAt.Sub(o.PlacedAt))
		}
		sum.ClientRetries += o.ClientRetries
		sum.StepRetries += o.StepRetries
		if len(o.ResponseIDs) > 1 {
			sum.Duplicates++
		}
		if o.CancelAccepted {
			sum.CancelsAccepted++
		}
	}
	ids := map[string]bool{}
	for _, e := range s.Events {
		ids[e.ID] = true
	}
	sum.Events = len(ids)
	for _, p := range s.Products {
		sum.Samples += len(p.Samples)
	}
	for _, f := range s.Faults {
		if f.Injected {
			sum.Faults[f.Kind]++
		} else {
			sum.Refused[f.Kind]++
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	sum.P50, sum.P99 = percentile(times, 50), percentile(times, 99)
	if len(times) > 0 {
		sum.Max = times[len(times)-1]
	}
	return sum
}

// percentile is the nearest-rank percentile of sorted d.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(rank, 1)-1]
}

// WriteReport writes the table: the counts, then every violation.
func WriteReport(w io.Writer, s Snapshot, violations []Violation, took time.Duration) {
	sum := Summarize(s)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "  %s\t%v\n", k, v) }
	fmt.Fprintf(tw, "chaos: %d orders, %d products, %d users, deadline %v, run %v\n", s.N, len(s.Products), len(s.Users), s.Deadline, took.Round(time.Second))
	row("orders", sum.Orders)
	row("confirmed", sum.Confirmed)
	row("cancelled", sum.Cancelled)
	for _, r := range slices.Sorted(maps.Keys(sum.CancelledBy)) {
		row("  by "+r, sum.CancelledBy[r])
	}
	row("duplicate submissions (one key)", sum.Duplicates)
	row("cancels accepted", sum.CancelsAccepted)
	row("events captured (distinct)", sum.Events)
	row("events replayed", sum.Replayed)
	row("notifications checked", len(s.Notifications))
	row("stock samples", sum.Samples)
	row("poison events", sum.Poison)
	row("faults injected", joinCounts(sum.Faults))
	if len(sum.Refused) > 0 {
		row("faults refused by the stack", joinCounts(sum.Refused))
	}
	row("faults fired (log lines)", joinCounts(s.Fired))
	row("client retries", sum.ClientRetries)
	row("step retries", sum.StepRetries)
	row("time to terminal p50", sum.P50.Round(10*time.Millisecond))
	row("time to terminal p99", sum.P99.Round(10*time.Millisecond))
	row("time to terminal max", sum.Max.Round(10*time.Millisecond))
	row("violations", len(violations))
	_ = tw.Flush()
	for _, v := range violations {
		fmt.Fprintln(w, "  VIOLATION", v)
	}
	for _, f := range s.Faults {
		if !f.Injected {
			fmt.Fprintf(w, "  fault not injected: %s on %s (%s): %s\n", f.Kind, f.Function, f.Target, f.Note)
		}
	}
}

func joinCounts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
