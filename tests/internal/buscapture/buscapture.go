// Package buscapture puts a rule of its own on an event bus that sends
// every event to a queue of its own, and drains the queue in the
// background, handing each delivery to the caller once: how the end-to-end
// tests (tests/capture_test.go) and make chaos (tests/chaos) see every
// event a run makes the stack emit. Close removes the rule and the queue.
//
//	c, err := buscapture.Start(ctx, sqsClient, ebClient, bus, "e2e-capture-123", "what it is for", record)
//	defer c.Close(ctx)
package buscapture

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// everyEvent matches every event: every source starts with "".
const everyEvent = `{"source":[{"prefix":""}]}`

const targetID = "capture"

// Capture is a running capture.
type Capture struct {
	sqs      *sqs.Client
	eb       *eventbridge.Client
	bus      string
	rule     string
	queueURL string
	record   func(body string) error

	mu            sync.Mutex
	seen          map[string]bool // SQS message ids handed over
	failures      []string        // deliveries record could not read
	receiveErrors []string

	stop, done chan struct{}
	closed     sync.Once
}

// Start creates the queue (named rule, which must be unique on the
// account: outside the stack's prefix, so the deployer's prune leaves it
// alone), the rule on bus with the queue as its target, and starts
// draining. record gets each delivery's body (the EventBridge envelope)
// once per SQS message, from one goroutine; an error it returns is kept as
// a failure (Failures).
func Start(ctx context.Context, sqsClient *sqs.Client, ebClient *eventbridge.Client, bus, rule, description string, record func(body string) error) (*Capture, error) {
	c := &Capture{sqs: sqsClient, eb: ebClient, bus: bus, rule: rule, record: record,
		seen: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	q, err := c.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(rule)})
	if err != nil {
		return nil, fmt.Errorf("capture queue: %w", err)
	}
	c.queueURL = aws.ToString(q.QueueUrl)
	attrs, err := c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return nil, fmt.Errorf("capture queue: %w", err)
	}
	queueARN := attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	r, err := c.eb.PutRule(ctx, &eventbridge.PutRuleInput{
		Name: aws.String(rule), EventBusName: aws.String(bus), EventPattern: aws.String(everyEvent), Description: aws.String(description),
	})
	if err != nil {
		return nil, fmt.Errorf("capture rule on bus %s: %w", bus, err)
	}
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sqs:SendMessage","Resource":%q,"Condition":{"ArnEquals":{"aws:SourceArn":%q}}}]}`,
		queueARN, aws.ToString(r.RuleArn))
	if _, err := c.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: q.QueueUrl, Attributes: map[string]string{"Policy": policy}}); err != nil {
		return nil, fmt.Errorf("capture queue policy: %w", err)
	}
	if _, err := c.eb.PutTargets(ctx, &eventbridge.PutTargetsInput{
		Rule: aws.String(rule), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String(targetID), Arn: aws.String(queueARN)}},
	}); err != nil {
		return nil, fmt.Errorf("capture target: %w", err)
	}
	go c.drain()
	return c, nil
}

// drain receives until stopped, then until the queue is empty.
func (c *Capture) drain() {
	defer close(c.done)
	ctx := context.Background()
	stopping := false
	for {
		select {
		case <-c.stop:
			stopping = true
		default:
		}
		// A short visibility: the emulator under load now and then takes a
		// receive and loses its answer; those messages come back soon.
		out, err := c.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(c.queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 5})
		if err != nil {
			c.mu.Lock()
			c.receiveErrors = append(c.receiveErrors, err.Error())
			c.mu.Unlock()
			time.Sleep(time.Second)
			continue
		}
		for _, m := range out.Messages {
			c.hand(aws.ToString(m.MessageId), aws.ToString(m.Body))
			_, _ = c.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(c.queueURL), ReceiptHandle: m.ReceiptHandle})
		}
		if stopping && len(out.Messages) == 0 {
			return
		}
	}
}

// hand gives a delivery to record once per SQS message: a message received
// again after a lost answer is the same delivery.
func (c *Capture) hand(messageID, body string) {
	c.mu.Lock()
	if c.seen[messageID] {
		c.mu.Unlock()
		return
	}
	c.seen[messageID] = true
	c.mu.Unlock()
	if err := c.record(body); err != nil {
		c.mu.Lock()
		c.failures = append(c.failures, fmt.Sprintf("undecodable delivery %.200s: %v", body, err))
		c.mu.Unlock()
	}
}

// Close stops the drain once the queue is empty and removes the rule, its
// target and the queue; it may be called more than once.
func (c *Capture) Close(ctx context.Context) {
	c.closed.Do(func() {
		close(c.stop)
		<-c.done
		_, _ = c.eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String(c.rule), EventBusName: aws.String(c.bus), Ids: []string{targetID}})
		_, _ = c.eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String(c.rule), EventBusName: aws.String(c.bus)})
		_, _ = c.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(c.queueURL)})
	})
}

// Failures are the deliveries record refused, each with its error.
func (c *Capture) Failures() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.failures...)
}

// ReceiveErrors are the receives that failed (each retried a second later).
func (c *Capture) ReceiveErrors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.receiveErrors...)
}
