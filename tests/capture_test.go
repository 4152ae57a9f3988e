package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/shop-serverless/shop/events/explain"
	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/metrics"
	"github.com/shop-serverless/shop/shared/naming"
)

// The capture: for the whole run, a rule of its own on the stack's bus
// sends every event to a queue of its own, which a goroutine drains into
// memory. Tests wait on it for the events they cause (awaitEvents), and
// TestMain checks every captured event against the catalog at the end: the
// events the code really emitted, not the ones a unit test built. Its rule
// and queue are named e2e-capture-*, outside the stack's prefix, so the
// deployer's prune leaves them alone; TestMain removes them.

// delivery is one event as the bus delivered it to the capture queue.
type delivery struct {
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Detail     json.RawMessage `json:"detail"`
	// ReplayName is set on an event an archive replay sent again
	// (TestReplayChangesNothing): awaitEvents counts first deliveries only.
	ReplayName string     `json:"replay-name"`
	Event      cloudEvent `json:"-"`
	At         time.Time  `json:"-"`
}

// cloudEvent is the part of a captured CloudEvent tests look at.
type cloudEvent struct {
	ID            string          `json:"id"`
	Source        string          `json:"source"`
	Type          string          `json:"type"`
	Subject       string          `json:"subject"`
	Time          time.Time       `json:"time"`
	CorrelationID string          `json:"correlationid"`
	Data          json.RawMessage `json:"data"`
}

type eventCapture struct {
	sqs      *sqs.Client
	eb       *eventbridge.Client
	bus      string
	rule     string
	queueURL string

	mu        sync.Mutex
	messages  map[string]bool // SQS message ids recorded
	delivered []delivery
	failures  []string // deliveries that could not be read

	stop chan struct{}
	done chan struct{}
}

// capture is the run's capture; nil when the run drives no Lambda stack.
var capture *eventCapture

const captureTarget = "capture"

// startCapture puts the capture on the stack's bus. The stack must be
// deployed (the bus exists).
func startCapture(ctx context.Context) (*eventCapture, error) {
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return nil, err
	}
	c := &eventCapture{
		sqs: sqs.NewFromConfig(cfg), eb: eventbridge.NewFromConfig(cfg),
		bus:  naming.EventBus(prefix()),
		rule: fmt.Sprintf("e2e-capture-%d", os.Getpid()),
		stop: make(chan struct{}), done: make(chan struct{}),
		messages: map[string]bool{},
	}
	q, err := c.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(c.rule)})
	if err != nil {
		return nil, fmt.Errorf("capture queue: %w", err)
	}
	c.queueURL = aws.ToString(q.QueueUrl)
	attrs, err := c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return nil, fmt.Errorf("capture queue: %w", err)
	}
	queueARN := attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	rule, err := c.eb.PutRule(ctx, &eventbridge.PutRuleInput{
		Name: aws.String(c.rule), EventBusName: aws.String(c.bus),
		// Every event: every source starts with "".
		EventPattern: aws.String(`{"source":[{"prefix":""}]}`),
		Description:  aws.String("end-to-end tests: every event of the run, checked against the catalog"),
	})
	if err != nil {
		return nil, fmt.Errorf("capture rule on bus %s: %w", c.bus, err)
	}
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sqs:SendMessage","Resource":%q,"Condition":{"ArnEquals":{"aws:SourceArn":%q}}}]}`,
		queueARN, aws.ToString(rule.RuleArn))
	if _, err := c.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: q.QueueUrl, Attributes: map[string]string{"Policy": policy}}); err != nil {
		return nil, fmt.Errorf("capture queue policy: %w", err)
	}
	if _, err := c.eb.PutTargets(ctx, &eventbridge.PutTargetsInput{
		Rule: aws.String(c.rule), EventBusName: aws.String(c.bus),
		Targets: []ebtypes.Target{{Id: aws.String(captureTarget), Arn: aws.String(queueARN)}},
	}); err != nil {
		return nil, fmt.Errorf("capture target: %w", err)
	}
	go c.drain()
	return c, nil
}

// drain receives until stopped, then until the queue is empty.
func (c *eventCapture) drain() {
	defer close(c.done)
	ctx := context.Background()
	stopping := false
	for {
		select {
		case <-c.stop:
			stopping = true
		default:
		}
		wait := int32(1)
		// A short visibility: the emulator under load now and then takes a
		// receive and loses its answer; those messages come back soon.
		out, err := c.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(c.queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: wait, VisibilityTimeout: 5})
		if err != nil {
			c.mu.Lock()
			c.failures = append(c.failures, "receive: "+err.Error())
			c.mu.Unlock()
			time.Sleep(time.Second)
			continue
		}
		for _, m := range out.Messages {
			c.record(aws.ToString(m.MessageId), aws.ToString(m.Body))
			_, _ = c.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(c.queueURL), ReceiptHandle: m.ReceiptHandle})
		}
		if stopping && len(out.Messages) == 0 {
			return
		}
	}
}

// record keeps a delivery, once per SQS message (a message received again
// after a lost answer is the same delivery).
func (c *eventCapture) record(messageID, body string) {
	c.mu.Lock()
	if c.messages[messageID] {
		c.mu.Unlock()
		return
	}
	c.messages[messageID] = true
	c.mu.Unlock()
	var d delivery
	err := json.Unmarshal([]byte(body), &d)
	if err == nil {
		err = json.Unmarshal(d.Detail, &d.Event)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.failures = append(c.failures, fmt.Sprintf("undecodable delivery %.200s: %v", body, err))
		return
	}
	d.At = time.Now()
	c.delivered = append(c.delivered, d)
}

// matching returns the deliveries match accepts, and how many distinct
// event ids they carry.
func (c *eventCapture) matching(match func(cloudEvent) bool) ([]delivery, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []delivery
	ids := map[string]bool{}
	for _, d := range c.delivered {
		if d.ReplayName == "" && match(d.Event) {
			out = append(out, d)
			ids[d.Event.ID] = true
		}
	}
	return out, len(ids)
}

// awaitEvents waits until the bus has carried want distinct events that
// match, and returns every delivery of them so far.
func awaitEvents(t *testing.T, what string, want int, match func(cloudEvent) bool) []delivery {
	t.Helper()
	if capture == nil {
		t.Fatal("no event capture: TestMain could not put it on the bus")
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, n := capture.matching(match)
		if n >= want {
			expectMetric("the bus carried events "+what, "", metrics.EventsPublished)
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("within 60 s the bus carried %d of the %d events %s", n, want, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// bySubject matches events of a type about one thing.
func bySubject(eventType, subject string) func(cloudEvent) bool {
	return func(e cloudEvent) bool { return e.Type == eventType && e.Subject == subject }
}

// finish stops the capture, removes its rule and queue, and checks every
// event the run carried against the catalog, printing a report; with
// SHOP_EVENTS_REPORT set it also writes the report to that file (make test
// prints it from there, as the least-privilege one).
func (c *eventCapture) finish() bool {
	var report strings.Builder
	ok := c.check(&report)
	fmt.Print(report.String())
	if path := os.Getenv("SHOP_EVENTS_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(report.String()), 0o644); err != nil {
			fmt.Println("events: write report:", err)
			return false
		}
	}
	return ok
}

// check removes the capture and writes its verdict to report: the summary
// line first, then every event that broke the catalog.
func (c *eventCapture) check(report *strings.Builder) bool {
	close(c.stop)
	<-c.done
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	_, _ = c.eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String(c.rule), EventBusName: aws.String(c.bus), Ids: []string{captureTarget}})
	_, _ = c.eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String(c.rule), EventBusName: aws.String(c.bus)})
	_, _ = c.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(c.queueURL)})

	c.mu.Lock()
	defer c.mu.Unlock()
	ok := len(c.failures) == 0
	var problems []string
	for _, f := range c.failures {
		problems = append(problems, "events: "+f)
	}
	perType := map[string]int{}
	replayed := 0
	for _, d := range c.delivered {
		e := d.Event
		perType[e.Type]++
		if d.ReplayName != "" {
			replayed++
		}
		if d.Source != e.Source || d.DetailType != e.Type {
			problems = append(problems, fmt.Sprintf("events: %s: EventBridge source %q / detail-type %q, but the CloudEvent says %q / %q", e.ID, d.Source, d.DetailType, e.Source, e.Type))
			ok = false
		}
		if err := explain.ValidateEvent(d.Detail); err != nil && !strings.HasPrefix(e.ID, invalidOnPurpose) {
			problems = append(problems, fmt.Sprintf("events: %s from %s: %v", e.ID, e.Source, err))
			ok = false
		}
	}
	var parts []string
	for _, typ := range slices.Sorted(maps.Keys(perType)) {
		parts = append(parts, fmt.Sprintf("%s %d", typ, perType[typ]))
	}
	verdict := "all match their schemas"
	if !ok {
		verdict = fmt.Sprintf("%d problems", len(problems))
	}
	fmt.Fprintf(report, "events: the bus carried %d events during the run (%d of them again, by a replay), each checked against its schema in events/: %s\n",
		len(c.delivered), replayed, verdict)
	fmt.Fprintf(report, "  by type: %s\n", strings.Join(parts, ", "))
	for _, p := range problems {
		fmt.Fprintln(report, "  "+p)
	}
	return ok
}

// invalidOnPurpose starts the id of every event a test puts on the bus to
// see it refused: the capture's check leaves those out.
const invalidOnPurpose = "e2e-invalid-"
