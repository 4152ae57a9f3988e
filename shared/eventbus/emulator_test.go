package eventbus

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/testenv"
)

// The publisher against the emulator's EventBridge: a bus of the test's own,
// a rule for the payments source feeding a queue, and every event comes out
// of the queue exactly as it went in (detail = the structured CloudEvent,
// source and detail-type = its source and type).
func TestEventBridgeOnTheEmulator(t *testing.T) {
	testenv.RequireEmulator(t)
	ctx := context.Background()
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	eb, q := eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	name := fmt.Sprintf("test-eventbus-%d", time.Now().UnixNano())

	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = eb.DeleteEventBus(context.Background(), &eventbridge.DeleteEventBusInput{Name: aws.String(name)})
	})
	queue, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = q.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: queue.QueueUrl}) })
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: queue.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{
		Name: aws.String(name), EventBusName: aws.String(name),
		EventPattern: aws.String(`{"source":["shop.payments"],"detail-type":["shop.payment.charged.v1"]}`),
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = eb.RemoveTargets(context.Background(), &eventbridge.RemoveTargetsInput{Rule: aws.String(name), EventBusName: aws.String(name), Ids: []string{"queue"}})
		_, _ = eb.DeleteRule(context.Background(), &eventbridge.DeleteRuleInput{Name: aws.String(name), EventBusName: aws.String(name)})
	})
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{
		Rule: aws.String(name), EventBusName: aws.String(name),
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}},
	}); err != nil {
		t.Fatal(err)
	}

	sent := events(t, 12) // two calls: 10 and 2
	if err := NewEventBridge(name, func() PutEventsAPI { return eb }).Publish(ctx, sent...); err != nil {
		t.Fatal(err)
	}

	want := map[string]event.Event{}
	for _, e := range sent {
		want[e.ID()] = e
	}
	got := map[string]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for len(got) < len(sent) && time.Now().Before(deadline) {
		// A short visibility: the emulator under load now and then takes a
		// receive and loses its answer, and those messages must come back
		// before the deadline.
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: queue.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			_, _ = q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: queue.QueueUrl, ReceiptHandle: m.ReceiptHandle})
			var env struct {
				Source     string          `json:"source"`
				DetailType string          `json:"detail-type"`
				Detail     json.RawMessage `json:"detail"`
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil {
				t.Fatalf("message %s: %v", aws.ToString(m.Body), err)
			}
			var e event.Event
			if err := json.Unmarshal(env.Detail, &e); err != nil {
				t.Fatalf("detail %s: %v", env.Detail, err)
			}
			w, ok := want[e.ID()]
			if !ok {
				t.Errorf("unexpected event %s", e.ID())
				continue
			}
			if got[e.ID()] {
				// At least once: a PutEvents whose answer was lost is sent
				// again by the SDK. The event is the same, its id too.
				t.Logf("event %s arrived again", e.ID())
				continue
			}
			got[e.ID()] = true
			if env.Source != w.Source() || env.DetailType != w.Type() {
				t.Errorf("%s: source %q detail-type %q", e.ID(), env.Source, env.DetailType)
			}
			var gotDetail, wantDetail any
			_ = json.Unmarshal(env.Detail, &gotDetail)
			_ = json.Unmarshal(mustJSON(t, w), &wantDetail)
			if !reflect.DeepEqual(gotDetail, wantDetail) {
				t.Errorf("%s: detail %s, sent %s", e.ID(), env.Detail, mustJSON(t, w))
			}
		}
	}
	if len(got) != len(sent) {
		t.Errorf("%d of %d events arrived", len(got), len(sent))
	}
}
