package livediff

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// A redrive policy's count compares the same whether SQS gives it as a
// number or a string; its policy compares by meaning.
func TestQueueStateReadsRedriveAndPolicy(t *testing.T) {
	policy := `{"Version":"2012-10-17","Statement":[{"Sid":"FromOwnRule","Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},` +
		`"Action":["sqs:SendMessage"],"Resource":["arn:q"],"Condition":{"ArnEquals":{"aws:SourceArn":["arn:r"]}}}]}`
	reformatted := `{"Statement": {"Resource": "arn:q", "Action": "sqs:SendMessage", "Effect": "Allow", "Sid": "FromOwnRule",` +
		`"Condition": {"ArnEquals": {"aws:SourceArn": "arn:r"}}, "Principal": {"Service": "events.amazonaws.com"}}, "Version": "2012-10-17"}`
	a, err := queueState(map[string]string{"VisibilityTimeout": "60", "RedrivePolicy": `{"deadLetterTargetArn":"arn:dlq","maxReceiveCount":5}`, "Policy": policy})
	if err != nil {
		t.Fatal(err)
	}
	b, err := queueState(map[string]string{"VisibilityTimeout": "60", "RedrivePolicy": `{"maxReceiveCount": "5", "deadLetterTargetArn": "arn:dlq"}`, "Policy": reformatted,
		"ApproximateNumberOfMessages": "3", "QueueArn": "arn:q", "CreatedTimestamp": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(&State{Queues: map[string]Queue{"q": a}}, &State{Queues: map[string]Queue{"q": b}}); len(d) > 0 {
		t.Errorf("the same queue differs: %v", d)
	}
	if a.RedriveTarget != "arn:dlq" || a.MaxReceiveCount != "5" || len(a.Policy.Statements) != 1 {
		t.Errorf("queue state %+v", a)
	}
	if _, err := queueState(map[string]string{"RedrivePolicy": "{"}); err == nil {
		t.Error("an unreadable redrive policy: no error")
	}
}

// A table stream's label (the time it was made) differs between any two
// stacks: it reads as a token, in the mapping's source and not at all in
// its key.
func TestMappingStateHidesTheStreamLabel(t *testing.T) {
	stream := "arn:aws:dynamodb:us-east-1:000000000000:table/shop-orders/stream/2026-12-01T18:51:00.521"
	m := mappingState(ltypes.EventSourceMappingConfiguration{
		EventSourceArn:             &stream,
		State:                      aws.String("Enabled"),
		BatchSize:                  aws.Int32(10),
		StartingPosition:           ltypes.EventSourcePositionTrimHorizon,
		FilterCriteria:             &ltypes.FilterCriteria{Filters: []ltypes.Filter{{Pattern: aws.String(`{"eventName": ["INSERT"]}`)}}},
		BisectBatchOnFunctionError: aws.Bool(true),
		MaximumRetryAttempts:       aws.Int32(10),
		DestinationConfig:          &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{Destination: aws.String("arn:dlq")}},
	})
	want := Mapping{
		Source: "arn:aws:dynamodb:us-east-1:000000000000:table/shop-orders/stream/" + StreamToken, State: "Enabled", BatchSize: 10,
		StartingPosition: "TRIM_HORIZON", Filters: []string{`{"eventName":["INSERT"]}`}, BisectOnError: "true", MaximumRetryAttempts: "10", OnFailure: "arn:dlq",
	}
	if d := Diff(&State{Mappings: map[string]Mapping{"m": m}}, &State{Mappings: map[string]Mapping{"m": want}}); len(d) > 0 {
		t.Errorf("mapping state differs from %+v: %v", want, d)
	}
	for arn, want := range map[string]string{
		stream: "table/shop-orders/stream",
		"arn:aws:sqs:us-east-1:000000000000:shop-notifications-notify": "shop-notifications-notify",
	} {
		if got := sourceName(arn); got != want {
			t.Errorf("sourceName(%s) = %s, want %s", arn, got, want)
		}
	}
}
