package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/eventbus"
	"github.com/shop-serverless/shop/shared/testenv"
)

// The relay on the emulator's EventBridge and SQS: the good records'
// events reach a queue behind a rule on the test's own bus; the bad record
// lands in the dead-letter queue, with its events and why.
func TestRelayOnTheEmulator(t *testing.T) {
	testenv.RequireEmulator(t)
	ctx := context.Background()
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	eb, q := eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	name := fmt.Sprintf("test-relay-%d", time.Now().UnixNano())
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = eb.DeleteEventBus(context.Background(), &eventbridge.DeleteEventBusInput{Name: aws.String(name)})
	})
	target, targetARN := newQueue(t, q, name)
	dlq, _ := newQueue(t, q, name+"-dlq")
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventBusName: aws.String(name),
		EventPattern: aws.String(`{"source":[{"prefix":"shop."}]}`)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = eb.RemoveTargets(context.Background(), &eventbridge.RemoveTargetsInput{Rule: aws.String(name), EventBusName: aws.String(name), Ids: []string{"queue"}})
		_, _ = eb.DeleteRule(context.Background(), &eventbridge.DeleteRuleInput{Name: aws.String(name), EventBusName: aws.String(name)})
	})
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name), EventBusName: aws.String(name),
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(targetARN)}}}); err != nil {
		t.Fatal(err)
	}

	r := New(eventbus.NewEventBridge(name, func() eventbus.PutEventsAPI { return eb }), func() DeadLetters { return q }, dlq, nil)
	bad := newEvent(t, "shop.order.confirmed.v1", "bad-1", "o-9")
	bad.SetDataSchema("urn:shop:event:other")
	batch := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		outboxRecord(t, 1, newEvent(t, "shop.inventory.reserved.v1", "good-1", "o-1"), newEvent(t, "shop.inventory.stock.low.v1", "good-2", "p-1")),
		insertRaw(t, 2, "OUTBOX#bad-1", mustEvents(t, bad)),
		outboxRecord(t, 3, newEvent(t, "shop.payment.charged.v1", "good-3", "o-3")),
	}}
	if err := r.Handle(ctx, batch); err != nil {
		t.Fatal(err)
	}

	var got []string
	for _, body := range receive(t, q, target, 3) {
		var env struct {
			Detail struct {
				ID string `json:"id"`
			} `json:"detail"`
		}
		if err := json.Unmarshal([]byte(body), &env); err != nil {
			t.Fatal(err)
		}
		got = append(got, env.Detail.ID)
	}
	sort.Strings(got)
	if fmt.Sprint(got) != "[good-1 good-2 good-3]" {
		t.Errorf("the bus delivered %v", got)
	}
	letters := receive(t, q, dlq, 1)
	var dl deadLetter
	if err := json.Unmarshal([]byte(letters[0]), &dl); err != nil {
		t.Fatal(err)
	}
	if dl.Key != "OUTBOX#bad-1" || len(dl.Failures) != 1 || dl.Failures[0].ID != "bad-1" || dl.Events != mustEvents(t, bad) {
		t.Errorf("dead letter %+v", dl)
	}
}

func newQueue(t *testing.T, q *sqs.Client, name string) (url, arn string) {
	t.Helper()
	ctx := context.Background()
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = q.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}) })
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl), attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
}

// receive reads n messages from the queue at url (20 s at most), and
// checks that no more come within a second.
// receive returns the n distinct messages of the queue at url. SQS, and
// EventBridge before it, deliver at least once (the emulator under load
// takes a request now and then and loses its answer, and the SDK sends it
// again): a message whose body arrived already is the same message again,
// and counts once; a receive whose answer was lost gives its messages back
// after the short visibility asked for here.
func receive(t *testing.T, q *sqs.Client, url string, n int) []string {
	t.Helper()
	var bodies []string
	seen := map[string]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for len(bodies) < n && time.Now().Before(deadline) {
		out, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			_, _ = q.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
			if body := aws.ToString(m.Body); !seen[body] {
				seen[body] = true
				bodies = append(bodies, body)
			}
		}
	}
	if len(bodies) != n {
		t.Fatalf("%d messages in %s, want %d", len(bodies), url, n)
	}
	out, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err == nil {
		for _, m := range out.Messages {
			if !seen[aws.ToString(m.Body)] {
				t.Errorf("a message in %s beyond the %d expected: %.200s", url, n, aws.ToString(m.Body))
			}
		}
	}
	return bodies
}
