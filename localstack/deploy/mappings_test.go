package main

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/shop-serverless/shop/shared/outbox"
)

const testStream = "arn:aws:dynamodb:us-east-1:000000000000:table/shop-evfix/stream/2026-01-01T00:00:00.000"

// What Lambda reports of the mappings the deployer creates reads back as
// the model's, so a second deploy changes nothing.
func TestMappingsReadBackAsTheModel(t *testing.T) {
	model := eventsModel(t, evFull)
	c := model.Function("evsub-got").Consumer
	queue := ltypes.EventSourceMappingConfiguration{
		EventSourceArn:                 &c.Queue.ARN,
		BatchSize:                      aws.Int32(10),
		MaximumBatchingWindowInSeconds: aws.Int32(0),
		FunctionResponseTypes:          []ltypes.FunctionResponseType{ltypes.FunctionResponseTypeReportBatchItemFailures},
		ScalingConfig:                  &ltypes.ScalingConfig{MaximumConcurrency: aws.Int32(5)},
		State:                          aws.String("Enabled"),
	}
	if diff, replace := mappingDiff(queueMapping(c), haveMapping(queue)); len(diff) > 0 || replace {
		t.Errorf("queue mapping differs in %v", diff)
	}
	r := model.Function("evfix-relay").Relay
	stream := ltypes.EventSourceMappingConfiguration{
		EventSourceArn:             aws.String(testStream),
		BatchSize:                  aws.Int32(10),
		StartingPosition:           ltypes.EventSourcePositionTrimHorizon,
		FilterCriteria:             &ltypes.FilterCriteria{Filters: []ltypes.Filter{{Pattern: aws.String(`{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"pk": {"S": [{"prefix": "OUTBOX#"}]}}}}`)}}},
		BisectBatchOnFunctionError: aws.Bool(true),
		MaximumRetryAttempts:       aws.Int32(10),
		MaximumRecordAgeInSeconds:  aws.Int32(86400),
		DestinationConfig:          &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{Destination: &r.DeadLetterQueue.ARN}},
		FunctionResponseTypes:      []ltypes.FunctionResponseType{},
	}
	want := streamMapping(r, testStream)
	if !slices.Equal(want.FilterPatterns, []string{outbox.FilterPattern}) {
		t.Fatalf("stream mapping filters %v, want the outbox's pattern", want.FilterPatterns)
	}
	if diff, replace := mappingDiff(want, haveMapping(stream)); len(diff) > 0 || replace {
		t.Errorf("stream mapping differs in %v", diff)
	}
}

// A source or a starting position cannot change in place; everything
// else can.
func TestMappingDiff(t *testing.T) {
	r := eventsModel(t, evFull).Function("evfix-relay").Relay
	want := streamMapping(r, testStream)
	for _, tt := range []struct {
		name    string
		change  func(*mappingConfig)
		diff    []string
		replace bool
	}{
		{"another stream", func(m *mappingConfig) { m.Source += "x" }, []string{"source"}, true},
		{"latest", func(m *mappingConfig) { m.StartingPosition = "LATEST" }, []string{"starting position"}, true},
		{"batch size", func(m *mappingConfig) { m.BatchSize = 100 }, []string{"batch size"}, false},
		{"no filter", func(m *mappingConfig) { m.FilterPatterns = nil }, []string{"filter"}, false},
		{"retries unlimited", func(m *mappingConfig) { m.MaxRetryAttempts = aws.Int32(-1) }, []string{"retry attempts"}, false},
		{"retries unreported", func(m *mappingConfig) { m.MaxRetryAttempts = nil }, []string{"retry attempts"}, false},
		{"no destination, no bisect", func(m *mappingConfig) { m.OnFailure, m.Bisect = "", false }, []string{"bisect", "on-failure destination"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			have := want
			have.FilterPatterns = slices.Clone(want.FilterPatterns)
			tt.change(&have)
			diff, replace := mappingDiff(want, have)
			if !slices.Equal(diff, tt.diff) || replace != tt.replace {
				t.Errorf("diff %v replace %v, want %v %v", diff, replace, tt.diff, tt.replace)
			}
		})
	}
}
