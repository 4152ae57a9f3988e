package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"

	catalog "github.com/shop-serverless/shop/events"
	"github.com/shop-serverless/shop/functions/orders"
	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/faults"
	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/metrics"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/store"
)

// The events' end-to-end tests: what the producers emit (seen through the
// run's capture on the bus, capture_test.go), what the consumers do with
// what arrives, the ingest endpoint, dead letters, duplicates, failures
// and replays. Events a test puts on the bus itself go straight through
// PutEvents, as another system with IAM rights would send them.

func skipEventsOnKnative(t *testing.T) {
	t.Helper()
	skipOnKnative(t, "the events run on EventBridge, SQS and DynamoDB streams, which a Knative run of the functions as plain processes has not")
}

func manifests(t *testing.T) *manifest.Set {
	t.Helper()
	set, err := manifest.Load("..")
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func awsCfg(t *testing.T) aws.Config {
	t.Helper()
	cfg, err := awsconfig.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// example is the catalog's example of eventType with a fresh id, changed
// by edit (which may change anything but the id).
func example(t *testing.T, eventType string, edit func(e, data map[string]any)) (id string, detail []byte) {
	t.Helper()
	raw, err := catalog.Example(eventType)
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	id = fmt.Sprintf("e2e-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
	e["id"] = id
	e["time"] = time.Now().UTC().Format(time.RFC3339Nano)
	// An order's lines name products of their own: notifications keeps
	// who waits for which product, and the stock.low example (about the
	// example's product) would otherwise reach every test's shopper.
	if items, ok := e["data"].(map[string]any)["items"].([]any); ok && eventType == "shop.order.created.v1" {
		for _, it := range items {
			it.(map[string]any)["productId"] = uuid.Must(uuid.NewV7()).String()
		}
	}
	if edit != nil {
		edit(e, e["data"].(map[string]any))
	}
	if detail, err = json.Marshal(e); err != nil {
		t.Fatal(err)
	}
	return e["id"].(string), detail
}

// putOnBus puts structured CloudEvents on the stack's bus in one
// PutEvents call, as an outside system with IAM rights may.
func putOnBus(t *testing.T, details ...[]byte) {
	t.Helper()
	entries := make([]ebtypes.PutEventsRequestEntry, len(details))
	for i, d := range details {
		var head struct{ Source, Type string }
		if err := json.Unmarshal(d, &head); err != nil {
			t.Fatal(err)
		}
		entries[i] = ebtypes.PutEventsRequestEntry{
			EventBusName: aws.String(naming.EventBus(prefix())),
			Source:       aws.String(head.Source), DetailType: aws.String(head.Type), Detail: aws.String(string(d)),
		}
	}
	out, err := eventbridge.NewFromConfig(awsCfg(t)).PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: entries})
	if err != nil {
		t.Fatal(err)
	}
	if out.FailedEntryCount != 0 {
		t.Fatalf("PutEvents: %d entries failed: %+v", out.FailedEntryCount, out.Entries)
	}
}

// claim is the consumer's deduplication record of an event: "" when the
// consumer never took it, else INPROGRESS or COMPLETED
// (shared/runtime/consumer.Claims).
func claim(t *testing.T, consumer *manifest.Function, source, id string) string {
	t.Helper()
	key := "CONSUMED#" + consumer.Name + "#" + strconv.Itoa(len(source)) + ":" + source + "#" + id
	item, err := store.Get(context.Background(), dynamo(t), naming.Table(prefix(), consumer.Service), store.Key(key, "CONSUMED"))
	if errors.Is(err, store.ErrNotFound) {
		return ""
	}
	if err != nil {
		// Not "": a failed read must not pass for "never taken".
		t.Fatalf("claim of %s on %s: %v", consumer.Name, id, err)
	}
	var rec struct {
		Status string `dynamodbav:"status"`
	}
	if err := attributevalue.UnmarshalMap(item, &rec); err != nil {
		t.Fatal(err)
	}
	return rec.Status
}

// awaitHandled waits until the consumer has handled the event.
func awaitHandled(t *testing.T, consumer *manifest.Function, source, id string) {
	t.Helper()
	eventually(t, func() bool { return claim(t, consumer, source, id) == "COMPLETED" },
		fmt.Sprintf("%s handled event %s from %s", consumer.Name, id, source))
	expectMetric("it handled event "+id, consumer.Name, metrics.EventsConsumed)
}

func consumerNamed(t *testing.T, set *manifest.Set, name string) *manifest.Function {
	t.Helper()
	for _, fn := range set.Functions() {
		if fn.Name == name && fn.Kind == manifest.KindEvent {
			return fn
		}
	}
	t.Fatalf("no consumer %s in the manifests", name)
	return nil
}

type notification struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	OrderID   string    `json:"orderId"`
	ProductID string    `json:"productId"`
	Message   string    `json:"message"`
	CreatedAt time.Time `json:"createdAt"`
}

func notificationsOf(t *testing.T, userID, token string) []notification {
	t.Helper()
	r := call(t, "GET", "/v1/users/"+userID+"/notifications?limit=100", nil, bearer(token)...)
	expect(t, r, http.StatusOK)
	var page struct {
		Items      []notification `json:"items"`
		NextCursor string         `json:"nextCursor"`
	}
	r.json(t, &page)
	return page.Items
}

// awaitNotifications waits until the user has n notices that match.
func awaitNotifications(t *testing.T, userID, token string, n int, match func(notification) bool) []notification {
	t.Helper()
	var got []notification
	eventually(t, func() bool {
		got = nil
		for _, x := range notificationsOf(t, userID, token) {
			if match(x) {
				got = append(got, x)
			}
		}
		return len(got) >= n
	}, fmt.Sprintf("%d notification(s) for user %s", n, userID))
	if n > 0 {
		expectMetric("notifications reached user "+userID, "", metrics.EventsConsumed)
	}
	return got
}

func TestOrderEventsReachTheCustomer(t *testing.T) {
	t.Parallel()
	skipEventsOnKnative(t)
	set := manifests(t)
	s := newShopper(t)
	p := newProduct(t, 10)
	o := mustPlace(t, s, "tok_visa", line(p.ID, 2))
	awaitEnd(t, s, o.ID, "CONFIRMED", "")

	awaitEvents(t, "user.created of the shopper", 1, bySubject("shop.user.created.v1", s.ID))
	for _, typ := range []string{"shop.order.created.v1", "shop.inventory.reserved.v1", "shop.payment.charged.v1", "shop.order.confirmed.v1"} {
		got := awaitEvents(t, typ+" of order "+o.ID, 1, bySubject(typ, o.ID))
		if _, n := capture.matching(bySubject(typ, o.ID)); n != 1 {
			t.Errorf("%s: %d distinct events for one order, want 1", typ, n)
		}
		e := got[0].Event
		if producer, _ := set.Producer(typ); e.Source != producer.Source {
			t.Errorf("%s came from %q, want its producer's source %q", typ, e.Source, producer.Source)
		}
		if e.CorrelationID == "" && typ == "shop.order.created.v1" {
			t.Errorf("%s carries no correlation id", typ)
		}
	}
	created := awaitEvents(t, "order.created", 1, bySubject("shop.order.created.v1", o.ID))[0].Event
	var data struct {
		UserID, CustomerName string
		Total                struct{ Amount int64 }
		Items                []struct{ ProductID string }
	}
	if err := json.Unmarshal(created.Data, &data); err != nil {
		t.Fatal(err)
	}
	if data.UserID != s.ID || data.CustomerName != "Ada" || data.Total.Amount != o.Total.Amount || len(data.Items) != 1 || data.Items[0].ProductID != p.ID {
		t.Errorf("order.created data %s, want the order %+v", created.Data, o)
	}

	got := awaitNotifications(t, s.ID, s.Token, 2, func(n notification) bool { return n.OrderID == o.ID })
	if got[0].Type != "shop.order.confirmed.v1" || got[1].Type != "shop.order.created.v1" {
		t.Errorf("notifications %+v, want confirmed then created (newest first)", got)
	}
	for _, n := range got {
		if !strings.Contains(n.Message, o.ID) {
			t.Errorf("notification %+v does not name the order", n)
		}
	}
	other := newShopper(t)
	expect(t, call(t, "GET", "/v1/users/"+s.ID+"/notifications", nil, bearer(other.Token)...), http.StatusForbidden)
	// Without a token API Gateway's authorizer answers, in its own words.
	if r := call(t, "GET", "/v1/users/"+s.ID+"/notifications", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("no token: %d %s", r.Status, r.Body)
	}
}

func TestReservationUnderThresholdEmitsStockLow(t *testing.T) {
	t.Parallel()
	skipEventsOnKnative(t)
	s := newShopper(t)
	p := newProduct(t, 6) // the default threshold is 5
	o := mustPlace(t, s, "tok_visa", line(p.ID, 2))
	awaitEnd(t, s, o.ID, "CONFIRMED", "")
	low := awaitEvents(t, "stock.low of product "+p.ID, 1, bySubject("shop.inventory.stock.low.v1", p.ID))[0].Event
	var d struct{ Available, Threshold int64 }
	if err := json.Unmarshal(low.Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.Available != 4 || d.Threshold != 5 {
		t.Errorf("stock.low %s, want 4 available under a threshold of 5", low.Data)
	}
}

// Each catalog example, put on the bus by its producer's source, is
// handled by exactly the consumers whose manifests name its type.
func TestCatalogExamplesReachExactlyTheirConsumers(t *testing.T) {
	t.Parallel()
	skipEventsOnKnative(t)
	set := manifests(t)
	p := newProduct(t, 5) // the warehouse example's product must exist
	var consumers []*manifest.Function
	for _, fn := range set.Functions() {
		if fn.Kind == manifest.KindEvent {
			consumers = append(consumers, fn)
		}
	}
	for _, typ := range set.EventTypes {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			producer, ok := set.Producer(typ)
			if !ok {
				t.Fatalf("nothing publishes %s", typ)
			}
			id, detail := example(t, typ, func(e, data map[string]any) {
				if e["source"] != producer.Source {
					t.Errorf("the example's source %v is not its producer's, %s", e["source"], producer.Source)
				}
				if _, ok := data["productId"]; ok && typ == "shop.warehouse.stock.received.v1" {
					data["productId"], e["subject"] = p.ID, p.ID
				}
			})
			putOnBus(t, detail)
			want := set.Consumers(typ)
			for _, c := range want {
				awaitHandled(t, c, producer.Source, id)
			}
			// The others had as long as these took, and a moment more.
			time.Sleep(2 * time.Second)
			for _, c := range consumers {
				if !slices.Contains(want, c) {
					if got := claim(t, c, producer.Source, id); got != "" {
						t.Errorf("%s took %s (claim %s), whose type it does not consume", c.Name, typ, got)
					}
				}
			}
		})
	}
}

// A batch with a poison event: the poison ends in the consumer's
// dead-letter queue after its receives, the rest is handled.
func TestPoisonEventGoesToTheDeadLetterQueue(t *testing.T) {
	t.Parallel()
	skipEventsOnKnative(t)
	set := manifests(t)
	notify := consumerNamed(t, set, "notifications-notify")
	user := uuid.NewString()
	goodID, good := example(t, "shop.order.created.v1", func(e, data map[string]any) { data["userId"] = user })
	_, poison := example(t, "shop.order.created.v1", func(e, data map[string]any) {
		e["id"] = invalidOnPurpose + fmt.Sprint(time.Now().UnixNano())
		data["total"] = map[string]any{"amount": -5, "currency": "EUR"} // below the schema's minimum
	})
	var head struct{ ID string }
	_ = json.Unmarshal(poison, &head)
	poisonID := head.ID
	putOnBus(t, good, poison)

	awaitHandled(t, notify, "shop.orders", goodID)
	awaitNotifications(t, user, userToken(t, user), 1, func(notification) bool { return true })

	client := sqs.NewFromConfig(awsCfg(t))
	url, err := client.GetQueueUrl(context.Background(), &sqs.GetQueueUrlInput{QueueName: aws.String(naming.DeadLetterQueue(prefix(), notify.Name))})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	eventually(t, func() bool {
		out, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: url.QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 1,
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			var d delivery
			if json.Unmarshal([]byte(aws.ToString(m.Body)), &d) == nil && strings.Contains(string(d.Detail), poisonID) {
				found = true
				_, _ = client.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: url.QueueUrl, ReceiptHandle: m.ReceiptHandle})
			}
		}
		return found
	}, "the poison event in "+naming.DeadLetterQueue(prefix(), notify.Name))
	if got := claim(t, notify, "shop.orders", poisonID); got != "" {
		t.Errorf("the poison event has a claim %q: a handler ran on it", got)
	}
}

// The same event delivered twice has one effect.
func TestSameEventTwiceHasOneEffect(t *testing.T) {
	t.Parallel()
	skipEventsOnKnative(t)
	notify := consumerNamed(t, manifests(t), "notifications-notify")
	user := uuid.NewString()
	id, detail := example(t, "shop.order.confirmed.v1", func(e, data map[string]any) { data["userId"] = user })
	putOnBus(t, detail)
	putOnBus(t, detail)
	awaitHandled(t, notify, "shop.orders", id)
	time.Sleep(3 * time.Second) // room for the second delivery to do harm
	if got := notificationsOf(t, user, userToken(t, user)); len(got) != 1 {
		t.Errorf("one event delivered twice left %d notifications: %+v", len(got), got)
	}
}

// A consumer failing (here while the fault switch holds) loses nothing:
// the message comes back after its back-off and is handled then.
func TestConsumerFailingLosesNothing(t *testing.T) {
	t.Parallel()
	skipEventsOnKnative(t)
	notify := consumerNamed(t, manifests(t), "notifications-notify")
	user, order := uuid.NewString(), uuid.NewString()
	table := naming.Table(prefix(), notify.Service)
	until := time.Now().Add(4 * time.Second)
	if err := faults.Set(context.Background(), dynamo(t), table, notify.Name, faults.Fault{Mode: faults.ModeError, Key: order, Until: until}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = faults.ClearKey(context.Background(), dynamo(t), table, notify.Name, order) })
	time.Sleep(1500 * time.Millisecond) // the function caches the switch for a second
	id, detail := example(t, "shop.order.created.v1", func(e, data map[string]any) {
		data["userId"], data["orderId"], e["subject"] = user, order, order
	})
	putOnBus(t, detail)
	awaitHandled(t, notify, "shop.orders", id)
	if time.Now().Before(until) {
		t.Fatalf("handled before the fault ended at %v: the fault never applied", until)
	}
	if got := notificationsOf(t, user, userToken(t, user)); len(got) != 1 || got[0].OrderID != order {
		t.Errorf("notifications %+v, want the one of order %s", got, order)
	}
}

// The relay made to fail between the commit and the publish (the fault
// switch on orders-relay, for one order) still publishes the order's
// event, once, when it recovers; the order's saga never waits for it.
func TestRelayFailingBetweenCommitAndPublish(t *testing.T) {
	t.Parallel()
	skipEventsOnKnative(t)
	s := newShopper(t)
	p := newProduct(t, 5)
	key := idemKey(t)
	id := orders.OrderID(s.ID, key)
	table := naming.Table(prefix(), "orders")
	until := time.Now().Add(6 * time.Second)
	if err := faults.Set(context.Background(), dynamo(t), table, "orders-relay", faults.Fault{Mode: faults.ModeError, Key: id, Until: until}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = faults.ClearKey(context.Background(), dynamo(t), table, "orders-relay", id) })
	time.Sleep(1500 * time.Millisecond)
	o, r := placeOrder(t, s, key, orderBody("tok_visa", line(p.ID, 1)))
	expect(t, r, http.StatusAccepted)
	if o.ID != id {
		t.Fatalf("order id %s, want %s", o.ID, id)
	}
	awaitEnd(t, s, o.ID, "CONFIRMED", "")
	got := awaitEvents(t, "order.created after the relay recovered", 1, bySubject("shop.order.created.v1", o.ID))
	if got[0].At.Before(until) {
		t.Errorf("order.created published at %v, before the relay's fault ended at %v", got[0].At, until)
	}
	// One event: no second one with another id. (The bus is at least
	// once: a PutEvents whose answer was lost comes again with the same
	// id, which the consumers absorb.) And its consumer acted once.
	awaitNotifications(t, s.ID, s.Token, 1, func(n notification) bool { return n.OrderID == o.ID && n.Type == "shop.order.created.v1" })
	time.Sleep(2 * time.Second)
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

// Stock low reaches the users with a PENDING order of the product, except
// those who said no to marketing emails.
func TestStockLowNotifiesPendingCustomersWhoWantIt(t *testing.T) {
	t.Parallel()
	skipEventsOnKnative(t)
	notify := consumerNamed(t, manifests(t), "notifications-notify")
	product := uuid.NewString()
	wants, declines, bystander := uuid.NewString(), uuid.NewString(), uuid.NewString()
	var ids []string
	var details [][]byte
	add := func(typ string, edit func(e, data map[string]any)) {
		id, d := example(t, typ, edit)
		ids, details = append(ids, id), append(details, d)
	}
	for _, u := range []struct {
		id        string
		marketing bool
	}{{wants, true}, {declines, false}, {bystander, true}} {
		add("shop.user.updated.v1", func(e, data map[string]any) {
			data["userId"], data["marketingEmails"], e["subject"] = u.id, u.marketing, u.id
		})
	}
	for _, u := range []string{wants, declines} {
		order := uuid.NewString()
		add("shop.order.created.v1", func(e, data map[string]any) {
			data["userId"], data["orderId"], e["subject"] = u, order, order
			data["items"].([]any)[0].(map[string]any)["productId"] = product
		})
	}
	putOnBus(t, details...)
	for i, id := range ids {
		src := "shop.users"
		if i >= 3 {
			src = "shop.orders"
		}
		awaitHandled(t, notify, src, id)
	}
	lowID, low := example(t, "shop.inventory.stock.low.v1", func(e, data map[string]any) { data["productId"], e["subject"] = product, product })
	putOnBus(t, low)
	awaitHandled(t, notify, "shop.inventory", lowID)
	isLow := func(n notification) bool { return n.Type == "shop.inventory.stock.low.v1" && n.ProductID == product }
	awaitNotifications(t, wants, userToken(t, wants), 1, isLow)
	for _, u := range []string{declines, bystander} {
		for _, n := range notificationsOf(t, u, userToken(t, u)) {
			if isLow(n) {
				t.Errorf("user %s got %+v", u, n)
			}
		}
	}
}

// A user's new name reaches their open orders (orders-user-updated).
func TestCustomerRenameReachesTheirOrders(t *testing.T) {
	t.Parallel()
	skipEventsOnKnative(t)
	s := newShopper(t)
	p := newProduct(t, 5)
	o := mustPlace(t, s, "tok_visa", line(p.ID, 1))
	awaitEnd(t, s, o.ID, "CONFIRMED", "")
	r := call(t, "PATCH", "/v1/users/"+s.ID, map[string]any{"name": "Ada King"}, append(bearer(s.Token), "If-Match", `"1"`)...)
	expect(t, r, http.StatusOK)
	eventually(t, func() bool {
		var got struct {
			CustomerName string `json:"customerName"`
		}
		call(t, "GET", "/v1/orders/"+o.ID, nil, bearer(s.Token)...).json(t, &got)
		return got.CustomerName == "Ada King"
	}, "order "+o.ID+" shows the customer's new name")
}

// A replay of archived events changes nothing: every consumer has handled
// them already.
func TestReplayChangesNothing(t *testing.T) {
	t.Parallel()
	skipEventsOnKnative(t)
	s := newShopper(t)
	p := newProduct(t, 5)
	from := time.Now().Add(-time.Second)
	o := mustPlace(t, s, "tok_visa", line(p.ID, 1))
	awaitEnd(t, s, o.ID, "CONFIRMED", "")
	before := awaitNotifications(t, s.ID, s.Token, 2, func(n notification) bool { return n.OrderID == o.ID })
	created := awaitEvents(t, "order.created", 1, bySubject("shop.order.created.v1", o.ID))[0].Event
	time.Sleep(time.Second) // the window ends in the past

	cmd := exec.Command("go", "run", "./infra/replay", "-prefix", prefix(),
		"-from", from.UTC().Format(time.RFC3339), "-to", time.Now().Add(-500*time.Millisecond).UTC().Format(time.RFC3339),
		"-types", "shop.order.created.v1,shop.order.confirmed.v1", "-wait", "2m")
	cmd.Dir = ".."
	cmd.Env = os.Environ()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make replay: %v\n%s", err, out)
	}
	// The replay reached the consumer: it says it skipped the event.
	logs := cloudwatchlogs.NewFromConfig(awsCfg(t))
	group := naming.LogGroup(prefix(), "notifications-notify")
	eventually(t, func() bool {
		out, err := logs.FilterLogEvents(context.Background(), &cloudwatchlogs.FilterLogEventsInput{
			LogGroupName: aws.String(group), StartTime: aws.Int64(from.UnixMilli()),
		})
		if err != nil {
			return false
		}
		for _, e := range out.Events {
			m := aws.ToString(e.Message)
			if strings.Contains(m, "handled before, skipped") && strings.Contains(m, created.ID) {
				return true
			}
		}
		return false
	}, "notifications-notify skipping the replayed order.created "+created.ID)
	after := notificationsOf(t, s.ID, s.Token)
	var mine []notification
	for _, n := range after {
		if n.OrderID == o.ID {
			mine = append(mine, n)
		}
	}
	if len(mine) != len(before) {
		t.Errorf("after the replay the order has %d notifications, before %d", len(mine), len(before))
	}
	if got := getOrder(t, s, o.ID); got.Status != "CONFIRMED" || got.Version != awaitOrder(t, s, o.ID, "CONFIRMED").Version {
		t.Errorf("order after the replay: %+v", got)
	}
	wantStock(t, p.ID, stock{Available: 4, Sold: 1})
}
