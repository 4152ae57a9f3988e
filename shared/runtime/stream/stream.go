// Package stream starts a function of kind stream: a service's outbox
// relay, which reads its own table's DynamoDB stream (shared/outbox/relay).
// It is a package of its own, as package consumer is, so that the other
// shapes do not link what it needs.
//
//	stream.Start(relay.Handle, stream.Source{Table: cfg.Table, AWS: awsCfg, Filter: relay.IsOutboxInsert})
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
// Either way each batch is handled in an invocation span (shared/tracing)
// ended with the handler's error.
//
// # Knative
//
// Nothing delivers the stream to a Knative service, so Start reads it
// itself (Poller: DynamoDB Streams ListStreams, DescribeStream,
// GetShardIterator, GetRecords, the calls a mapping's role makes) and hands
// the handler the same batches, filtered by Source.Filter as a mapping's
// filter would, while it serves the probes on $PORT as every shape does. It
// keeps its place in memory: a restart reads each shard from its oldest
// record again (handled twice, never lost). Deploy it with exactly one
// replica, never scaled to zero.
package stream

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/shop-serverless/shop/shared/runtime"
	"github.com/shop-serverless/shop/shared/tracing"
)

// Handler handles one batch of stream records. An error fails the batch:
// every record of it comes again.
type Handler func(ctx context.Context, batch events.DynamoDBEvent) error

// Source is the stream a handler reads where nothing delivers it (Knative):
// the table's, found by name.
type Source struct {
	Table string
	AWS   aws.Config
	// Filter keeps the records the handler is for (what the stream
	// mapping's filter lets through on Lambda); nil keeps all.
	Filter func(events.DynamoDBEventRecord) bool
}

// Start handles the batches of the table's stream: on Lambda as the stream
// mapping delivers them (it never returns), elsewhere by polling the
// stream until SIGTERM. A stream it cannot read at all ends the process.
func Start(h Handler, src Source) {
	h = traced(h)
	if runtime.OnLambda() {
		lambda.Start(func(ctx context.Context, batch events.DynamoDBEvent) error { return h(ctx, batch) })
		return
	}
	if src.Table == "" {
		runtime.Fatal("stream: cannot start", errors.New("no table to read the stream of"))
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		runtime.Fatal("stream: cannot listen on $PORT", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	p := NewPoller(dynamodbstreams.NewFromConfig(src.AWS), src.Table, src.AWS.Region, src.Filter)
	if err := pollAndServe(ctx, p, h, ln); err != nil {
		runtime.Fatal("stream: stopped", err)
	}
}

// traced runs each batch in an invocation span of its own
// (tracing.Invocation with no upstream: a stream record carries no trace),
// on Lambda a part of the invocation's own trace, on Knative a new trace
// per batch as Lambda's is: the batch's own calls (PutEvents) are traced
// there. The relay gives each event a span in the event's own trace besides.
func traced(h Handler) Handler {
	return func(ctx context.Context, batch events.DynamoDBEvent) (err error) {
		ctx, span := tracing.Invocation(ctx, "")
		defer func() { span.End(err) }()
		return h(ctx, batch)
	}
}

// pollAndServe runs the poller and serves the probes on ln (nothing else:
// every other path is 404) until ctx ends, or either fails.
func pollAndServe(ctx context.Context, p *Poller, h Handler, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	polled, served := make(chan error, 1), make(chan error, 1)
	go func() { polled <- p.Run(ctx, h) }()
	go func() { served <- runtime.Serve(ctx, ln, http.NotFoundHandler()) }()
	select {
	case err := <-polled:
		cancel()
		return errors.Join(err, <-served)
	case err := <-served:
		cancel()
		return errors.Join(err, <-polled)
	}
}
