// Package stream starts a function of kind stream: a service's outbox
// relay, which reads its own table's DynamoDB stream (shared/outbox/relay).
// It is a package of its own, as package consumer is, so that the other
// shapes do not link what it needs.
//
//	stream.Start(relay.Handle, stream.Source{Table: cfg.Table, AWS: awsCfg})
//
// # Lambda
//
// The function is the target of a DynamoDB stream event source mapping
// (filtered to outbox inserts, bisect on error, a retry limit and an
// on-failure destination: see the deployment model). Each invocation is one
// batch of records, events.DynamoDBEvent; the handler's error fails the
// whole batch, which the mapping retries (the local emulator retries it
// forever, about once a second: the handler must never fail for good on one
// record).
//
// # Knative
//
// Not yet: a Knative service has no stream mapping, so the relay would have
// to poll the table's stream itself (DynamoDB Streams: ListStreams,
// DescribeStream, GetShardIterator, GetRecords) and keep its place in every
// shard. Until that is written Start refuses to start off Lambda, with an
// error that says so, rather than serve nothing.
package stream

import (
	"context"
	"errors"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/shop-serverless/shop/shared/runtime"
)

// Handler handles one batch of stream records. An error fails the batch:
// every record of it comes again.
type Handler func(ctx context.Context, batch events.DynamoDBEvent) error

// Source is the stream a handler reads where nothing delivers it (Knative):
// the table's, found by name.
type Source struct {
	Table string
	AWS   aws.Config
}

// ErrNoStreamMapping is why Start stops off Lambda.
var ErrNoStreamMapping = errors.New("stream: a stream function runs on AWS Lambda behind a DynamoDB stream mapping; " +
	"reading the stream from Knative (polling DynamoDB Streams) is not implemented")

// Start handles the batches of the table's stream: on Lambda, as the stream
// mapping delivers them (it never returns). Elsewhere it ends the process
// with ErrNoStreamMapping.
func Start(h Handler, src Source) {
	if runtime.OnLambda() {
		lambda.Start(func(ctx context.Context, batch events.DynamoDBEvent) error { return h(ctx, batch) })
		return
	}
	_ = src
	runtime.Fatal("stream: cannot start", ErrNoStreamMapping)
}
