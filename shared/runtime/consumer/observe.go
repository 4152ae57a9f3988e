package consumer

import (
	"context"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/shared/metrics"
)

// countConsumed counts each event handle handled (metrics.EventsConsumed).
// Claims.Once calls it only for an event not handled before, so a
// duplicate is not counted.
func countConsumed(handle Handler) Handler {
	return func(ctx context.Context, e event.Event) error {
		err := handle(ctx, e)
		if err == nil {
			metrics.Count(metrics.EventsConsumed, 1)
		}
		return err
	}
}

// countPoison counts a poison message once (metrics.DeadLettered), on its
// first receive: it fails the same way on each of its receives, the last of
// which moves it to the dead-letter queue, and counting the last would need
// the queue's maxReceiveCount here.
func countPoison(msg events.SQSMessage) {
	if n, err := strconv.Atoi(msg.Attributes["ApproximateReceiveCount"]); err != nil || n <= 1 {
		metrics.Count(metrics.DeadLettered, 1)
	}
}
