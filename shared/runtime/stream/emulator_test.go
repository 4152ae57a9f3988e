package stream

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/shop-serverless/shop/shared/awsconfig"
	"github.com/shop-serverless/shop/shared/store/storetest"
)

// The poller on the emulator's DynamoDB Streams: items written before and
// while it runs reach the handler once each, in order, the filtered ones
// never; a failed batch comes again.
func TestPollerOnTheEmulator(t *testing.T) {
	db, table := storetest.Table(t, "orders") // a table with a NEW_IMAGE stream
	ctx := context.Background()
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	put := func(pk string) {
		t.Helper()
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: "X"},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 12 {
		put(fmt.Sprintf("KEEP#%02d", i))
		if i%4 == 0 {
			put(fmt.Sprintf("SKIP#%02d", i))
		}
	}

	var mu sync.Mutex
	var got []string
	failedOnce := false
	runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	h := func(_ context.Context, b events.DynamoDBEvent) error {
		mu.Lock()
		defer mu.Unlock()
		if !failedOnce {
			failedOnce = true
			return fmt.Errorf("first batch fails")
		}
		for _, r := range b.Records {
			if r.EventName != "INSERT" || !strings.Contains(r.EventSourceArn, table) {
				t.Errorf("record %+v", r)
			}
			got = append(got, r.Change.NewImage["pk"].String())
		}
		if len(got) >= 15 {
			cancel()
		}
		return nil
	}
	p := NewPoller(dynamodbstreams.NewFromConfig(cfg), table, cfg.Region, func(r events.DynamoDBEventRecord) bool {
		return strings.HasPrefix(r.Change.NewImage["pk"].String(), "KEEP#")
	})
	p.Idle, p.Backoff = 50*time.Millisecond, 50*time.Millisecond
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx, h) }()
	time.Sleep(300 * time.Millisecond)
	for i := 12; i < 15; i++ {
		put(fmt.Sprintf("KEEP#%02d", i))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if runCtx.Err() != context.Canceled {
		t.Fatalf("the handler got %v before the time ran out", got)
	}
	var want []string
	for i := range 15 {
		want = append(want, fmt.Sprintf("KEEP#%02d", i))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("handled %v, want %v", got, want)
	}
}
