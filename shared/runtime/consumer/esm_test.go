package consumer

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamodbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/store"
	"github.com/shop-serverless/shop/shared/store/storetest"
)

// TestEventSourceMappingOnTheEmulator deploys a consumer (testdata/
// esmconsumer) behind a real queue with a dead-letter queue (maxReceiveCount
// 5, visibility timeout 60 s) and an event source mapping with
// ReportBatchItemFailures, sends it one batch of three messages and checks
// what the platform does with the answer:
//
//   - the good event is handled once and deleted, although its batch
//     reported failures (ReportBatchItemFailures leaves the others deleted);
//   - the event that fails once comes back after the back-off (10 s less
//     jitter), not after the queue's 60 s: ChangeMessageVisibility works on
//     a message in flight in an event source mapping;
//   - the poison event (against its schema) is in the dead-letter queue
//     within seconds, after its five receives, never having reached the
//     handler.
func TestEventSourceMappingOnTheEmulator(t *testing.T) {
	db, table := storetest.Table(t, "users")
	ctx := context.Background()
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q, fns := sqs.NewFromConfig(cfg), lambda.NewFromConfig(cfg)
	name := "test-esm-" + uuid.NewString()[:8]

	dlqURL, dlqARN := newQueue(t, q, name+"-dlq", nil)
	redrive, _ := json.Marshal(map[string]string{"deadLetterTargetArn": dlqARN, "maxReceiveCount": "5"})
	queueURL, queueARN := newQueue(t, q, name, map[string]string{"VisibilityTimeout": "60", "RedrivePolicy": string(redrive)})

	// Its own name as its prefix: tools that tell stacks apart by
	// SHOP_PREFIX (the live diff, the deployer's prune) see a stack of its
	// own, which nobody else's names can clash with.
	_, err = fns.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Runtime:      lambdatypes.RuntimeProvidedal2023,
		Handler:      aws.String("bootstrap"),
		Role:         aws.String("arn:aws:iam::000000000000:role/" + name),
		Code:         &lambdatypes.FunctionCode{ZipFile: buildConsumerZip(t)},
		Timeout:      aws.Int32(10),
		Environment: &lambdatypes.Environment{Variables: map[string]string{
			"SHOP_PREFIX": name, "SHOP_SERVICE": "users", "SHOP_FUNCTION": name, "SHOP_TABLE": table, "SHOP_QUEUE_URL": queueURL,
		}},
	})
	if err != nil {
		t.Fatalf("create function: %v", err)
	}
	t.Cleanup(func() {
		_, _ = fns.DeleteFunction(context.Background(), &lambda.DeleteFunctionInput{FunctionName: aws.String(name)})
		_, _ = cloudwatchlogs.NewFromConfig(cfg).DeleteLogGroup(context.Background(), &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String("/aws/lambda/" + name)})
	})
	if err := lambda.NewFunctionActiveV2Waiter(fns).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)}, 30*time.Second); err != nil {
		t.Fatalf("function not active: %v", err)
	}

	okID, failID, poisonID := "ok-"+uuid.NewString(), "fail-once-"+uuid.NewString(), "poison-"+uuid.NewString()
	poison := catalogEvent(t, orderCreated, poisonID, func(d map[string]any) { d["data"].(map[string]any)["total"] = "lots" })
	batch, err := q.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: []sqstypes.SendMessageBatchRequestEntry{
		{Id: aws.String("ok"), MessageBody: aws.String(envelope(created(t, okID)))},
		{Id: aws.String("fail"), MessageBody: aws.String(envelope(created(t, failID)))},
		{Id: aws.String("poison"), MessageBody: aws.String(envelope(poison))},
	}})
	if err != nil || len(batch.Successful) != 3 {
		t.Fatalf("send: %v %+v", err, batch)
	}
	var poisonMessage string
	for _, m := range batch.Successful {
		if aws.ToString(m.Id) == "poison" {
			poisonMessage = aws.ToString(m.MessageId)
		}
	}
	sent := time.Now()
	mapping, err := fns.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		EventSourceArn: aws.String(queueARN), FunctionName: aws.String(name), BatchSize: aws.Int32(10),
		FunctionResponseTypes: []lambdatypes.FunctionResponseType{lambdatypes.FunctionResponseTypeReportBatchItemFailures},
	})
	if err != nil {
		t.Fatalf("create event source mapping: %v", err)
	}
	t.Cleanup(func() {
		_, _ = fns.DeleteEventSourceMapping(context.Background(), &lambda.DeleteEventSourceMappingInput{UUID: mapping.UUID})
	})

	var poisonAt, firstAttemptAt, secondAttemptAt time.Duration
	var dlqBody string
	for deadline := time.Now().Add(55 * time.Second); time.Now().Before(deadline) && (poisonAt == 0 || secondAttemptAt == 0); time.Sleep(250 * time.Millisecond) {
		if firstAttemptAt == 0 && seen(t, db, table, failID) >= 1 {
			firstAttemptAt = time.Since(sent)
		}
		if secondAttemptAt == 0 && seen(t, db, table, failID) >= 2 {
			secondAttemptAt = time.Since(sent)
		}
		if poisonAt == 0 {
			out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlqURL), MaxNumberOfMessages: 10,
				MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount}})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Messages) > 0 {
				poisonAt, dlqBody = time.Since(sent), aws.ToString(out.Messages[0].Body)
			}
		}
	}
	t.Logf("measured: first attempt of the failing event %v after sending, second %v; poison in the DLQ after %v", firstAttemptAt, secondAttemptAt, poisonAt)
	if poisonAt == 0 || poisonAt > 20*time.Second {
		t.Errorf("poison reached the DLQ after %v, want within 20 s (five receives at visibility 0)", poisonAt)
	}
	if dlqBody != envelope(poison) {
		t.Errorf("DLQ holds %s, want the poison message", dlqBody)
	}
	if secondAttemptAt == 0 {
		t.Fatalf("the event failed once never came back within 55 s (queue visibility timeout 60 s)")
	}
	if gap := secondAttemptAt - firstAttemptAt; gap < 7*time.Second || gap > 20*time.Second {
		t.Errorf("the failed event came back %v after its first attempt, want the back-off of 7.5..10 s (not 0, not the queue's 60 s)", gap)
	}
	if n := seen(t, db, table, okID); n != 1 {
		t.Errorf("the good event was handled %d times, want once", n)
	}
	if n := seen(t, db, table, poisonID); n != 0 {
		t.Errorf("the poison event reached the handler %d times", n)
	}
	// The poison was received five times, each record carrying its receive
	// count (the function logs it with each failure).
	counts := receiveCounts(t, cfg, name, poisonMessage)
	if fmt.Sprint(counts) != "[1 2 3 4 5]" {
		t.Errorf("the poison's failures were logged with receive counts %v, want [1 2 3 4 5]", counts)
	}
	// Everything handled: nothing left in the queue, visible or in flight.
	out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL), AttributeNames: []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Attributes["ApproximateNumberOfMessages"] != "0" || out.Attributes["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Errorf("queue still holds messages: %v", out.Attributes)
	}
}

// receiveCounts reads the function's log for its failures of the message
// and returns their receive counts, sorted.
func receiveCounts(t *testing.T, cfg aws.Config, function, messageID string) []int {
	t.Helper()
	logs := cloudwatchlogs.NewFromConfig(cfg)
	var counts []int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		counts = nil
		out, err := logs.FilterLogEvents(context.Background(), &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/aws/lambda/" + function)})
		if err == nil {
			for _, e := range out.Events {
				var line struct {
					Msg          string `json:"msg"`
					MessageID    string `json:"messageId"`
					ReceiveCount string `json:"receiveCount"`
				}
				if json.Unmarshal([]byte(aws.ToString(e.Message)), &line) == nil && line.MessageID == messageID {
					n, _ := strconv.Atoi(line.ReceiveCount)
					counts = append(counts, n)
				}
			}
		}
		if len(counts) >= 5 || time.Now().After(deadline) {
			slices.Sort(counts)
			return counts
		}
	}
}

// seen is how often the test consumer's handler ran for id.
func seen(t *testing.T, db store.DB, table, id string) int {
	t.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: store.Key("SEEN#"+id, "SEEN"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	runs, ok := out.Item["attempts"].(*dynamodbtypes.AttributeValueMemberSS)
	if !ok {
		return 0
	}
	return len(runs.Value)
}

func newQueue(t *testing.T, q *sqs.Client, name string, attrs map[string]string) (url, arn string) {
	t.Helper()
	ctx := context.Background()
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	t.Cleanup(func() { _, _ = q.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}) })
	a, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl), a.Attributes["QueueArn"]
}

// buildConsumerZip builds testdata/esmconsumer for the emulator's host, as
// the local deployer builds functions, and zips it as bootstrap.
func buildConsumerZip(t *testing.T) []byte {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", bin, "./testdata/esmconsumer")
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goruntime.GOARCH, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err == nil {
		_, err = w.Write(binary)
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(fmt.Errorf("zip: %w", err))
	}
	return buf.Bytes()
}
