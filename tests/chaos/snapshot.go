package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/shop-serverless/shop/functions/notifications"
	"github.com/shop-serverless/shop/functions/orders"
	"github.com/shop-serverless/shop/functions/payments"
	"github.com/shop-serverless/shop/functions/provider"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/store"
)

// quiet is how long the run waits for what follows an order's end (the
// stock's commit, its events, the poison's way to the DLQ) before it
// reads the snapshot.
const quiet = 60 * time.Second

// awaitTerminal polls the orders table until every placed order is
// CONFIRMED or CANCELLED, or the deadline has passed since the last one
// was placed.
func (r *runner) awaitTerminal(ctx context.Context) {
	st := orders.NewStore(r.s.db, r.s.table("orders"))
	end := time.Now().Add(r.o.deadline)
	pending := map[*plan]bool{}
	for _, p := range r.plans {
		if len(p.rec.ResponseIDs) > 0 {
			pending[p] = true
		}
	}
	for len(pending) > 0 && time.Now().Before(end) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for p := range pending {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				o, err := st.Get(ctx, p.id)
				if err == nil && (o.Status == orders.StatusConfirmed || o.Status == orders.StatusCancelled) && !o.CancelRequested ||
					err == nil && o.Status == orders.StatusCancelled {
					mu.Lock()
					delete(pending, p)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(pending) > 0 {
			time.Sleep(time.Second)
		}
	}
}

// awaitStockAtRest waits until nothing is reserved (Commit and Release run
// after an order's end), for quiet at most.
func (r *runner) awaitStockAtRest(ctx context.Context) {
	end := time.Now().Add(quiet)
	for time.Now().Before(end) {
		rest := true
		for _, p := range r.products {
			st, err := r.stockOf(ctx, p.ID)
			if err != nil || st.Reserved != 0 {
				rest = false
				break
			}
		}
		if rest {
			return
		}
		time.Sleep(time.Second)
	}
}

// replay puts a share of the order events the bus carried on it again:
// the duplicate deliveries an at-least-once bus makes, which the consumers
// must absorb (no second notification, claim skipped).
func (r *runner) replay(ctx context.Context) error {
	var sources, details []string
	seen := map[string]bool{}
	want := max(5, r.o.n/5)
	for _, e := range r.c.snapshot() {
		if len(details) == want {
			break
		}
		if e.Replay || seen[e.ID] || !strings.HasPrefix(e.Type, "shop.order.") || strings.HasPrefix(e.ID, "e2e-invalid-") {
			continue
		}
		seen[e.ID] = true
		sources, details = append(sources, e.Source), append(details, e.Detail)
	}
	if err := r.s.putEvents(ctx, sources, details); err != nil {
		return fmt.Errorf("duplicate deliveries: %w", err)
	}
	r.replayed = len(details)
	fmt.Printf("chaos: %d events put on the bus again\n", len(details))
	return nil
}

// collect waits for the events and the poison to settle, then reads the
// snapshot the checker judges.
func (r *runner) collect(ctx context.Context) (Snapshot, error) {
	snap := Snapshot{N: r.o.n, Deadline: r.o.deadline, Poison: r.poison, Replayed: r.replayed}
	for _, u := range r.users {
		snap.Users = append(snap.Users, u.ID)
	}
	if err := r.readOrders(ctx); err != nil {
		return snap, err
	}
	// The events of every end, and the poison in the DLQ, within quiet.
	var dead []DeadLetter
	var deadErr error
	var wg sync.WaitGroup
	wg.Go(func() { dead, deadErr = r.awaitDeadLetters(ctx) })
	r.awaitEvents()
	wg.Wait()
	if deadErr != nil {
		return snap, deadErr
	}
	snap.DeadLetters = dead
	for _, e := range r.c.snapshot() {
		snap.Events = append(snap.Events, e.Event)
	}
	if err := r.readExecutions(ctx); err != nil {
		return snap, err
	}
	if err := r.readPayments(ctx); err != nil {
		return snap, err
	}
	notes, err := r.readNotifications(ctx)
	if err != nil {
		return snap, err
	}
	snap.Notifications = notes
	for i := range r.products {
		st, err := r.stockOf(ctx, r.products[i].ID)
		if err != nil {
			return snap, err
		}
		r.products[i].Final = st
	}
	snap.Products = r.products
	for _, p := range r.plans {
		snap.Orders = append(snap.Orders, *p.rec)
	}
	r.mu.Lock()
	snap.Faults = append(snap.Faults, r.faults...)
	r.mu.Unlock()
	snap.Fired = r.readFired(ctx, snap.Faults)
	return snap, nil
}

// firedLines tell, in this order, what a log line says fired
// (shared/faults); "" marks a line that only repeats a firing counted by
// its own line (the throttling error as the step logs it).
var firedLines = []struct{ text, kind string }{
	{"injected crash", "crash"},
	{"injected throttling", "throttling"},
	{"provisioned throughput for the table was exceeded", ""},
	{"injected latency", "latency"},
	{"injected fault", "error"},
}

// readFired counts, in the logs of every function the run switched a
// fault on for, the lines that say a fault fired since the run began: the
// evidence that a switched fault did happen. A log it cannot read is
// noted, not failed: the counts are a figure, not an invariant.
func (r *runner) readFired(ctx context.Context, fs []Fault) map[string]int {
	out := map[string]int{}
	done := map[string]bool{}
	for _, f := range fs {
		if !f.Injected || done[f.Function] {
			continue
		}
		done[f.Function] = true
		p := cloudwatchlogs.NewFilterLogEventsPaginator(r.s.logs, &cloudwatchlogs.FilterLogEventsInput{
			LogGroupName: aws.String(naming.LogGroup(r.s.prefix, f.Function)), StartTime: aws.Int64(r.began.UnixMilli()),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				r.note("fired faults: logs of %s: %v", f.Function, err)
				break
			}
			for _, e := range page.Events {
				m := aws.ToString(e.Message)
				for _, l := range firedLines {
					if strings.Contains(m, l.text) {
						if l.kind != "" {
							out[l.kind+" ("+f.Function+")"]++
						}
						break
					}
				}
			}
		}
	}
	return out
}

// readOrders reads every order's state item.
func (r *runner) readOrders(ctx context.Context) error {
	st := orders.NewStore(r.s.db, r.s.table("orders"))
	return r.each(func(p *plan) error {
		o, err := st.Get(ctx, p.id)
		if errors.Is(err, orders.ErrOrderNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("order %s: %w", p.id, err)
		}
		p.rec.Status, p.rec.Reason, p.rec.PlacedAt = string(o.Status), string(o.CancelReason), o.CreatedAt
		for _, h := range o.History {
			p.rec.History = append(p.rec.History, string(h.Status))
			p.rec.EndedAt = h.At
		}
		return nil
	})
}

// each runs f for every plan, 8 at a time, and joins the errors.
func (r *runner) each(f func(p *plan) error) error {
	errs := make([]error, len(r.plans))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, p := range r.plans {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = f(p)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// awaitEvents waits (quiet at most) until every stored order has the
// order events its end calls for.
func (r *runner) awaitEvents() {
	end := time.Now().Add(quiet)
	for time.Now().Before(end) {
		have := map[string]map[string]bool{}
		for _, e := range r.c.snapshot() {
			if have[e.Subject] == nil {
				have[e.Subject] = map[string]bool{}
			}
			have[e.Subject][e.Type] = true
		}
		complete := true
		for _, p := range r.plans {
			o := p.rec
			if o.Status == "" {
				continue
			}
			if !have[o.ID][typeOrderCreated] || o.Status == statusCancelled && !have[o.ID][typeOrderCancelled] ||
				o.Status == statusConfirmed && !have[o.ID][typeOrderConfirmed] {
				complete = false
				break
			}
		}
		if complete {
			time.Sleep(3 * time.Second) // room for a late duplicate to show
			return
		}
		time.Sleep(time.Second)
	}
}

// awaitDeadLetters reads the stack's DLQs until every poison event is
// there (quiet at most) and returns what in them belongs to the run: the
// poison (deleted once read, so the next run starts clean) and anything
// naming an order, user or event of the run (left where it is).
func (r *runner) awaitDeadLetters(ctx context.Context) ([]DeadLetter, error) {
	list, err := r.s.sqs.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String(r.s.prefix + "-")})
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	ours := map[string]bool{}
	for _, p := range r.plans {
		ours[p.id] = true
	}
	for _, u := range r.users {
		ours[u.ID] = true
	}
	poison := map[string]bool{}
	for _, id := range r.poison {
		poison[id] = true
	}
	var out []DeadLetter
	seen := map[string]bool{} // message ids
	found := 0
	end := time.Now().Add(quiet)
	for {
		for _, url := range list.QueueUrls {
			if !strings.HasSuffix(url, "-dlq") {
				continue
			}
			name := url[strings.LastIndex(url, "/")+1:]
			for {
				// A short visibility: another test reading the same DLQ
				// (make test's poison test) must see its message again soon.
				msgs, err := r.s.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 2})
				if err != nil {
					return nil, fmt.Errorf("receive %s: %w", name, err)
				}
				fresh := 0
				for _, m := range msgs.Messages {
					if seen[aws.ToString(m.MessageId)] {
						continue
					}
					fresh++
					seen[aws.ToString(m.MessageId)] = true
					body := aws.ToString(m.Body)
					_, e, _ := decodeDelivery(body)
					switch {
					case poison[e.ID]:
						out = append(out, DeadLetter{Queue: name, EventID: e.ID})
						found++
						_, _ = r.s.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
					case mentions(body, ours):
						id := e.ID
						if id == "" {
							id = fmt.Sprintf("message %s: %.200s", aws.ToString(m.MessageId), body)
						}
						out = append(out, DeadLetter{Queue: name, EventID: id})
					}
				}
				if fresh == 0 {
					break // empty, or only messages seen already come back
				}
			}
		}
		if found >= len(r.poison) || time.Now().After(end) {
			return out, nil
		}
		time.Sleep(2 * time.Second)
	}
}

func mentions(body string, ids map[string]bool) bool {
	for id := range ids {
		if strings.Contains(body, id) {
			return true
		}
	}
	return false
}

// readExecutions counts the place executions per order and the task
// retries in each order's executions' histories.
func (r *runner) readExecutions(ctx context.Context) error {
	arn, err := r.sagaARN(ctx)
	if err != nil {
		return err
	}
	names := map[string]int{}
	arns := map[string][]string{}
	p := sfn.NewListExecutionsPaginator(r.s.sfn, &sfn.ListExecutionsInput{StateMachineArn: aws.String(arn)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list executions: %w", err)
		}
		for _, e := range page.Executions {
			name := aws.ToString(e.Name)
			names[name]++
			order := strings.TrimSuffix(name, "-cancel")
			arns[order] = append(arns[order], aws.ToString(e.ExecutionArn))
		}
	}
	return r.each(func(p *plan) error {
		p.rec.Executions = names[p.id]
		for _, a := range arns[p.id] {
			n, err := r.taskRetries(ctx, a)
			if err != nil {
				return err
			}
			p.rec.StepRetries += n
		}
		return nil
	})
}

// taskRetries counts the Lambda invocations a history scheduled beyond one
// per task state entered: the Retry attempts.
func (r *runner) taskRetries(ctx context.Context, arn string) (int, error) {
	entered, scheduled := 0, 0
	p := sfn.NewGetExecutionHistoryPaginator(r.s.sfn, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("history of %s: %w", arn, err)
		}
		for _, e := range page.Events {
			switch e.Type {
			case sfntypes.HistoryEventTypeTaskStateEntered:
				entered++
			case sfntypes.HistoryEventTypeLambdaFunctionScheduled, sfntypes.HistoryEventTypeTaskScheduled:
				scheduled++
			}
		}
	}
	return max(0, scheduled-entered), nil
}

func (r *runner) sagaARN(ctx context.Context) (string, error) {
	want := naming.StateMachine(r.s.prefix, "orders", "saga")
	p := sfn.NewListStateMachinesPaginator(r.s.sfn, &sfn.ListStateMachinesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", err
		}
		for _, sm := range page.StateMachines {
			if aws.ToString(sm.Name) == want {
				return aws.ToString(sm.StateMachineArn), nil
			}
		}
	}
	return "", fmt.Errorf("no state machine %s", want)
}

// readPayments reads each order's payment and the provider's ledger.
func (r *runner) readPayments(ctx context.Context) error {
	pay := payments.NewStore(r.s.db, r.s.table("payments"))
	led := provider.NewStore(r.s.db, r.s.table("provider"))
	return r.each(func(p *plan) error {
		got, err := pay.Get(ctx, p.id)
		switch {
		case err == nil:
			p.rec.Payment = &Payment{Status: got.Status}
		case !errors.Is(err, payments.ErrNotFound):
			return fmt.Errorf("payment %s: %w", p.id, err)
		}
		rec, err := led.GetCharge(ctx, p.id)
		switch {
		case err == nil:
			p.rec.Ledger = &Ledger{Status: rec.Status, Amount: rec.Amount, Refunds: rec.Refunds, RefundedAmount: rec.RefundedAmount}
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("ledger %s: %w", p.id, err)
		}
		return nil
	})
}

// readNotifications reads every notification of the run's users.
func (r *runner) readNotifications(ctx context.Context) ([]Notification, error) {
	st := notifications.NewStore(r.s.db, r.s.table("notifications"))
	var out []Notification
	for _, u := range r.users {
		cursor := ""
		for {
			page, next, err := st.List(ctx, u.ID, 100, cursor)
			if err != nil {
				return nil, fmt.Errorf("notifications of %s: %w", u.ID, err)
			}
			for _, n := range page {
				out = append(out, Notification{UserID: u.ID, EventID: n.ID, Type: n.Type, OrderID: n.OrderID})
			}
			if next == "" {
				break
			}
			cursor = next
		}
	}
	return out, nil
}
