package tests

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/google/uuid"

	"github.com/shop-serverless/shop/functions/orders"
	"github.com/shop-serverless/shop/shared/faults"
	"github.com/shop-serverless/shop/shared/naming"
)

// The crash and throttle faults (shared/faults) against the deployed
// stack: a function that dies right after its write and before its answer,
// and DynamoDB refusing a function's calls. Each fault is keyed to the
// test's own order or event, so the tests beside it run untouched.

// setFault switches f on for function of service, for this test only.
func setFault(t *testing.T, service, function string, f faults.Fault) {
	t.Helper()
	db, table := dynamo(t), naming.Table(prefix(), service)
	if f.Until.IsZero() {
		f.Until = time.Now().Add(5 * time.Minute)
	}
	if err := faults.Set(context.Background(), db, table, function, f); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = faults.ClearKey(context.Background(), db, table, function, f.Key) })
}

// awaitExecution waits for the order's one execution to end (an order is
// CONFIRMED before its Commit step runs) and returns how it ended.
func awaitExecution(t *testing.T, orderID string) sfntypes.ExecutionStatus {
	t.Helper()
	deadline := time.Now().Add(sagaDeadline)
	for {
		ex := executions(t, orderID)
		if len(ex) != 1 {
			t.Fatalf("%d executions named %s, want 1", len(ex), orderID)
		}
		if ex[0].Status != sfntypes.ExecutionStatusRunning {
			return ex[0].Status
		}
		if time.Now().After(deadline) {
			t.Fatalf("the execution of order %s still runs after %v", orderID, sagaDeadline)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// stepFailures are the errors of the failed attempts of the order's saga
// steps so far, by the Task state's name ("Reserve: Runtime.ExitError").
func stepFailures(t *testing.T, orderID string) []string {
	t.Helper()
	ex := executions(t, orderID)
	if len(ex) != 1 {
		t.Fatalf("%d executions named %s, want 1", len(ex), orderID)
	}
	var out []string
	state := ""
	p := sfn.NewGetExecutionHistoryPaginator(sfnClient(t), &sfn.GetExecutionHistoryInput{ExecutionArn: ex[0].ExecutionArn})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			switch {
			case e.StateEnteredEventDetails != nil:
				state = aws.ToString(e.StateEnteredEventDetails.Name)
			case e.TaskFailedEventDetails != nil:
				out = append(out, state+": "+aws.ToString(e.TaskFailedEventDetails.Error))
			case e.LambdaFunctionFailedEventDetails != nil:
				out = append(out, state+": "+aws.ToString(e.LambdaFunctionFailedEventDetails.Error))
			case e.Type == sfntypes.HistoryEventTypeTaskTimedOut:
				out = append(out, state+": States.Timeout")
			}
		}
	}
	return out
}

// awaitStepFailure waits until the order's execution has a failed attempt
// named want ("Reserve: Transient"), polling fast: a test clears a fault
// once it has acted, within the saga's retry window.
func awaitStepFailure(t *testing.T, orderID, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if len(executions(t, orderID)) == 1 && slices.Contains(stepFailures(t, orderID), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q attempt of order %s within 30 s", want, orderID)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// wantSpent fails t unless function's keyed crash for key was spent: the
// crashing process clears it, so its absence proves the crash happened.
func wantSpent(t *testing.T, service, function, key string) {
	t.Helper()
	f, err := faults.Get(context.Background(), dynamo(t), naming.Table(prefix(), service), function, key)
	if err != nil {
		t.Fatal(err)
	}
	if f != nil {
		t.Errorf("%s's crash for %s is still switched on: it never crashed", function, key)
	}
}

// retryOrder places the order again with the same key, as a client does
// after a failed answer, until it is accepted (the idempotency lock of the
// crashed attempt holds until it expires: 409 meanwhile).
func retryOrder(t *testing.T, s shopper, key string, body any) (order, []int) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var statuses []int
	for {
		o, r := placeOrder(t, s, key, body)
		statuses = append(statuses, r.Status)
		if r.Status == http.StatusAccepted {
			return o, statuses
		}
		if r.Status < 500 && r.Status != http.StatusConflict {
			t.Fatalf("retry of key %s: status %d, body %s", key, r.Status, r.Body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("retries of key %s not accepted within 90 s: statuses %v", key, statuses)
		}
		time.Sleep(time.Second)
	}
}

// orders-create dies after storing the order and before starting its
// saga or answering. The client's retry with the same Idempotency-Key,
// once the crashed attempt's lock expires, ends with the same one order
// and one saga.
func TestOrderCreateCrashAfterWrite(t *testing.T) {
	t.Parallel()
	skipSagaOnKnative(t)
	s := newShopper(t)
	p := newProduct(t, 5)
	key := idemKey(t)
	id := orders.OrderID(s.ID, key)
	setFault(t, "orders", "orders-create", faults.Fault{Mode: faults.ModeCrash, Key: key})
	body := orderBody("tok_visa", line(p.ID, 1))

	_, first := placeOrder(t, s, key, body)
	if first.Status < 500 {
		t.Fatalf("the crashed attempt answered %d (%s), want a 5xx", first.Status, first.Body)
	}
	t.Logf("the crashed attempt: status %d, body %s", first.Status, first.Body)
	if n := len(executions(t, id)); n != 0 {
		t.Fatalf("%d executions after the crash: the crash came after the saga started, not between write and answer", n)
	}
	stored := getOrder(t, s, id) // written before the crash
	if stored.Status != "PENDING" {
		t.Fatalf("stored order %+v, want PENDING", stored)
	}

	wantSpent(t, "orders", "orders-create", key)
	o, statuses := retryOrder(t, s, key, body)
	t.Logf("retry statuses: %v", statuses)
	if o.ID != id {
		t.Fatalf("retry answered order %s, want %s", o.ID, id)
	}
	awaitEnd(t, s, id, "CONFIRMED", "")
	if n := len(executions(t, id)); n != 1 {
		t.Errorf("%d executions of order %s, want 1", n, id)
	}
	r := call(t, "GET", "/v1/users/"+s.ID+"/orders", nil, bearer(s.Token)...)
	expect(t, r, http.StatusOK)
	var list struct {
		Items []order `json:"items"`
	}
	r.json(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != id {
		t.Errorf("the user's orders %s, want the one order %s", r.Body, id)
	}
	wantLedger(t, id, 1, 0)
	eventually(t, func() bool { return stockOf(t, p.ID) == stock{Available: 4, Sold: 1} }, "one unit sold")
}

// A saga step dies right after its write (Reserve: the reservation; Charge:
// the payment record after the provider's charge). Step Functions sees the
// crashed invocation as a Lambda error its Retry lists; the retry finds
// the work done and answers, and the order is CONFIRMED with one charge.
func TestSagaStepCrashAfterWrite(t *testing.T) {
	t.Parallel()
	skipSagaOnKnative(t)
	for _, step := range []struct{ state, service, function string }{
		{"Reserve", "inventory", "inventory-reserve"},
		{"Charge", "payments", "payments-charge"},
		{"Commit", "inventory", "inventory-commit"}, // after the order is CONFIRMED: once no Retry took a crash, an operator's
	} {
		t.Run(step.state, func(t *testing.T) {
			t.Parallel()
			s := newShopper(t)
			p := newProduct(t, 5)
			key := idemKey(t)
			id := orders.OrderID(s.ID, key)
			setFault(t, step.service, step.function, faults.Fault{Mode: faults.ModeCrash, Key: id})
			o, r := placeOrder(t, s, key, orderBody("tok_visa", line(p.ID, 1)))
			expect(t, r, http.StatusAccepted)
			awaitEnd(t, s, o.ID, "CONFIRMED", "")
			if st := awaitExecution(t, o.ID); st != sfntypes.ExecutionStatusSucceeded {
				t.Errorf("execution %s: %s", st, executionSummary(t, o.ID))
			}
			failures := stepFailures(t, o.ID)
			t.Logf("failed attempts: %v", failures)
			if !slices.ContainsFunc(failures, func(f string) bool { return strings.HasPrefix(f, step.state+": ") }) {
				t.Errorf("no failed %s attempt in the history (%v): the crash never happened", step.state, failures)
			}
			wantLedger(t, o.ID, 1, 0)
			pay, r := getPayment(t, s, o.ID)
			expect(t, r, http.StatusOK)
			if pay.Status != "CHARGED" {
				t.Errorf("payment %+v, want CHARGED", pay)
			}
			eventually(t, func() bool { return stockOf(t, p.ID) == stock{Available: 4, Sold: 1} }, "one unit sold")
		})
	}
}

// A compensation's step dies after its write: Refund, after Confirm failed
// following the charge. It is retried like any step, and the money goes
// back once.
func TestSagaCompensationCrashAfterWrite(t *testing.T) {
	t.Parallel()
	skipSagaOnKnative(t)
	s := newShopper(t)
	p := newProduct(t, 4)
	key := idemKey(t)
	id := orders.OrderID(s.ID, key)
	faultConfirm(t, id, faults.Fault{Mode: faults.ModeError})
	setFault(t, "payments", "payments-refund", faults.Fault{Mode: faults.ModeCrash, Key: id})
	o, r := placeOrder(t, s, key, orderBody("tok_visa", line(p.ID, 2)))
	expect(t, r, http.StatusAccepted)
	awaitEnd(t, s, o.ID, "CANCELLED", "INTERNAL")
	if st := awaitExecution(t, o.ID); st != sfntypes.ExecutionStatusSucceeded {
		t.Errorf("execution %s: %s", st, executionSummary(t, o.ID))
	}
	failures := stepFailures(t, o.ID)
	t.Logf("failed attempts: %v", failures)
	if !slices.Contains(failures, "Refund: Runtime.ExitError") {
		t.Errorf("no crashed Refund attempt in the history (%v)", failures)
	}
	pay, r := getPayment(t, s, o.ID)
	expect(t, r, http.StatusOK)
	if pay.Status != "REFUNDED" {
		t.Errorf("payment %+v, want REFUNDED", pay)
	}
	wantLedger(t, o.ID, 1, 1)
	eventually(t, func() bool { return stockOf(t, p.ID) == stock{Available: 4} }, "the stock released")
}

// The notifications consumer dies right after writing the first event's
// notification, mid-batch. Nothing is lost (the batch comes again after
// the visibility timeout) and nothing is handled twice (the crashed
// delivery's claim holds until its lock expires; the one that takes it
// over finds the notification written).
func TestConsumerCrashMidBatch(t *testing.T) {
	t.Parallel()
	skipEventsOnKnative(t)
	notify := consumerNamed(t, manifests(t), "notifications-notify")
	user := uuid.NewString()
	orderIDs := []string{uuid.NewString(), uuid.NewString(), uuid.NewString()}
	setFault(t, notify.Service, notify.Name, faults.Fault{Mode: faults.ModeCrash, Key: orderIDs[0]})
	var ids []string
	var details [][]byte
	for _, order := range orderIDs {
		id, detail := example(t, "shop.order.confirmed.v1", func(e, data map[string]any) {
			data["userId"], data["orderId"], e["subject"] = user, order, order
		})
		ids, details = append(ids, id), append(details, detail)
	}
	putOnBus(t, details...) // one PutEvents: one batch, as far as the queue allows
	// The crashed batch comes back after the queue's visibility timeout (six
	// times the function's 10 s), and the crashed event's claim is taken
	// over once its lock (the invocation's deadline) expires.
	deadline := time.Now().Add(150 * time.Second)
	for _, id := range ids {
		for claim(t, notify, "shop.orders", id) != "COMPLETED" {
			if time.Now().After(deadline) {
				t.Fatalf("event %s not handled within 150 s (claim %q)", id, claim(t, notify, "shop.orders", id))
			}
			time.Sleep(time.Second)
		}
	}
	wantSpent(t, notify.Service, notify.Name, orderIDs[0])
	time.Sleep(3 * time.Second) // room for a late redelivery to do harm
	got := notificationsOf(t, user, userToken(t, user))
	seen := map[string]int{}
	for _, n := range got {
		seen[n.OrderID]++
	}
	for _, order := range orderIDs {
		if seen[order] != 1 {
			t.Errorf("order %s: %d notifications, want 1 (all: %+v)", order, seen[order], got)
		}
	}
	if len(got) != len(orderIDs) {
		t.Errorf("%d notifications, want %d", len(got), len(orderIDs))
	}
}

// DynamoDB throttling a saga step's calls: the step fails as Transient,
// the saga retries it, and when the throttling lasts the order is
// compensated with nothing half-written: no charge left, the stock back.
func TestSagaStepThrottled(t *testing.T) {
	t.Parallel()
	skipSagaOnKnative(t)
	t.Run("brief", func(t *testing.T) {
		t.Parallel()
		s := newShopper(t)
		p := newProduct(t, 5)
		key := idemKey(t)
		id := orders.OrderID(s.ID, key)
		setFault(t, "inventory", "inventory-reserve", faults.Fault{Mode: faults.ModeThrottle, Key: id})
		o, r := placeOrder(t, s, key, orderBody("tok_visa", line(p.ID, 1)))
		expect(t, r, http.StatusAccepted)
		// The throttling ends once it has failed an attempt, within the
		// Task's retries.
		awaitStepFailure(t, o.ID, "Reserve: Transient")
		if err := faults.ClearKey(context.Background(), dynamo(t), naming.Table(prefix(), "inventory"), "inventory-reserve", id); err != nil {
			t.Fatal(err)
		}
		awaitEnd(t, s, o.ID, "CONFIRMED", "")
		t.Logf("failed attempts: %v", stepFailures(t, o.ID))
		wantLedger(t, o.ID, 1, 0)
		eventually(t, func() bool { return stockOf(t, p.ID) == stock{Available: 4, Sold: 1} }, "one unit sold")
	})
	t.Run("lasting", func(t *testing.T) {
		t.Parallel()
		s := newShopper(t)
		p := newProduct(t, 5)
		key := idemKey(t)
		id := orders.OrderID(s.ID, key)
		setFault(t, "payments", "payments-charge", faults.Fault{Mode: faults.ModeThrottle, Key: id})
		o, r := placeOrder(t, s, key, orderBody("tok_visa", line(p.ID, 1)))
		expect(t, r, http.StatusAccepted)
		awaitEnd(t, s, o.ID, "CANCELLED", "PAYMENT_UNAVAILABLE") // the saga's name for a charge that kept failing transiently
		failures := stepFailures(t, o.ID)
		t.Logf("failed attempts: %v", failures)
		if n := countPrefix(failures, "Charge: Transient"); n != 3 {
			t.Errorf("%d Transient Charge attempts (%v), want every attempt (3)", n, failures)
		}
		if l := providerLedger(t, o.ID); l.Charged != l.Refunded {
			t.Errorf("provider ledger %+v: a charge was left", l)
		}
		eventually(t, func() bool { return stockOf(t, p.ID) == stock{Available: 5} }, "the stock released")
	})
}

func countPrefix(list []string, prefix string) int {
	n := 0
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// DynamoDB throttling orders-create: the client sees a 503 with
// Retry-After (busy, retry) and no order is stored; its retry with the same Idempotency-Key, once the throttling
// ends, places the order once.
func TestOrderCreateThrottled(t *testing.T) {
	t.Parallel()
	skipSagaOnKnative(t)
	s := newShopper(t)
	p := newProduct(t, 5)
	key := idemKey(t)
	id := orders.OrderID(s.ID, key)
	setFault(t, "orders", "orders-create", faults.Fault{Mode: faults.ModeThrottle, Key: key})
	body := orderBody("tok_visa", line(p.ID, 1))
	_, r := placeOrder(t, s, key, body)
	expect(t, r, http.StatusServiceUnavailable) // busy, not broken: the caller retries
	if r.Header.Get("Retry-After") == "" {
		t.Errorf("throttled create: 503 without a Retry-After")
	}
	expect(t, call(t, "GET", "/v1/orders/"+id, nil, bearer(s.Token)...), http.StatusNotFound)
	if n := len(executions(t, id)); n != 0 {
		t.Fatalf("%d executions of a throttled create", n)
	}
	if err := faults.ClearKey(context.Background(), dynamo(t), naming.Table(prefix(), "orders"), "orders-create", key); err != nil {
		t.Fatal(err)
	}
	o, statuses := retryOrder(t, s, key, body)
	t.Logf("retry statuses: %v", statuses)
	if o.ID != id {
		t.Fatalf("order %s, want %s", o.ID, id)
	}
	awaitEnd(t, s, id, "CONFIRMED", "")
	if n := len(executions(t, id)); n != 1 {
		t.Errorf("%d executions, want 1", n)
	}
	eventually(t, func() bool { return stockOf(t, p.ID) == stock{Available: 4, Sold: 1} }, "one unit sold")
}

// The orders relay dies right after publishing an order's first event and
// before its batch is done: the stream hands the batch over again and the
// event is published again under the same id. The bus is at least once;
// the consumers absorb it: one distinct event, one notification.
func TestRelayCrashAfterPublish(t *testing.T) {
	t.Parallel()
	skipEventsOnKnative(t)
	s := newShopper(t)
	p := newProduct(t, 5)
	key := idemKey(t)
	id := orders.OrderID(s.ID, key)
	setFault(t, "orders", "orders-relay", faults.Fault{Mode: faults.ModeCrash, Key: id})
	o, r := placeOrder(t, s, key, orderBody("tok_visa", line(p.ID, 1)))
	expect(t, r, http.StatusAccepted)
	awaitEnd(t, s, o.ID, "CONFIRMED", "")
	awaitEvents(t, "order.created despite the relay's crash", 1, bySubject("shop.order.created.v1", o.ID))
	wantSpent(t, "orders", "orders-relay", id)
	awaitNotifications(t, s.ID, s.Token, 1, func(n notification) bool { return n.OrderID == o.ID && n.Type == "shop.order.created.v1" })
	time.Sleep(2 * time.Second) // room for a late redelivery to do harm
	if _, n := capture.matching(bySubject("shop.order.created.v1", o.ID)); n != 1 {
		t.Errorf("%d distinct order.created events for one order, want 1", n)
	}
	created := 0
	for _, n := range notificationsOf(t, s.ID, s.Token) {
		if n.OrderID == o.ID && n.Type == "shop.order.created.v1" {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d order.created notifications for one order, want 1", created)
	}
}
