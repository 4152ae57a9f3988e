package consumer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/shop-serverless/shop/shared/log"
)

// VisibilityAPI is the part of the SQS API Backoff uses; *sqs.Client
// satisfies it.
type VisibilityAPI interface {
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Backoff decides when a failed message comes back from its queue. Without
// it, a message reported failed reappears after the queue's whole
// visibility timeout (six times the function's timeout), every time. With
// it, each failed message's visibility is changed right away:
//
//   - a transient failure comes back after Base, then three times longer
//     on each receive (ApproximateReceiveCount), at most Max, less up to a
//     quarter of jitter so that a burst of failures does not return as one;
//   - a permanent one (poison: undecodable, unknown type, against its
//     schema; or a handler's Permanent error) comes back at once (0), so it
//     uses up the queue's maxReceiveCount (5) in seconds and moves to the
//     dead-letter queue, instead of after five visibility timeouts.
//
// A failed change is logged and ignored: the message then comes back after
// the queue's visibility timeout, which loses nothing.
type Backoff struct {
	QueueURL string
	Base     time.Duration
	Max      time.Duration
	client   func() VisibilityAPI
}

// Default back-off: 10 s, 30 s, 90 s, 270 s before the fifth and last
// receive, about six and a half minutes in all; Max bounds a queue whose
// maxReceiveCount is raised.
const (
	DefaultBackoffBase = 10 * time.Second
	DefaultBackoffMax  = 15 * time.Minute
)

// NewBackoff returns the back-off for the queue at queueURL; client is
// called for the SQS client on the first failure, so a function whose
// messages never fail never builds one.
func NewBackoff(queueURL string, client func() VisibilityAPI) *Backoff {
	return &Backoff{QueueURL: queueURL, Base: DefaultBackoffBase, Max: DefaultBackoffMax, client: sync.OnceValue(client)}
}

// Delay is how long a message received for the receiveCount-th time stays
// invisible after failing; 0 for a permanent failure.
func (b *Backoff) Delay(receiveCount int, permanent bool) time.Duration {
	if permanent {
		return 0
	}
	d := b.Base
	for i := 1; i < receiveCount && d < b.Max; i++ {
		d *= 3
	}
	d = min(d, b.Max)
	return d - rand.N(d/4+1)
}

// retryLater changes the visibility of a failed message.
func (b *Backoff) retryLater(ctx context.Context, msg events.SQSMessage, permanent bool) {
	count, _ := strconv.Atoi(msg.Attributes["ApproximateReceiveCount"]) // absent or bad: 0, the first delay
	delay := b.Delay(count, permanent)
	// The invocation may be out of time already; the call is short.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_, err := b.client().ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(b.QueueURL),
		ReceiptHandle:     aws.String(msg.ReceiptHandle),
		VisibilityTimeout: int32(delay / time.Second),
	})
	if err != nil {
		log.FromContext(ctx).WarnContext(ctx, "consumer: changing the failed message's visibility failed; it returns after the queue's visibility timeout",
			"messageId", msg.MessageId, "error", fmt.Errorf("change visibility: %w", err))
	}
}
