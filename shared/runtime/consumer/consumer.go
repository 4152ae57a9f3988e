package consumer

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/shared/runtime"
)

// Handler consumes one CloudEvent. event.Event is the type that
// github.com/cloudevents/sdk-go/v2 exports as cloudevents.Event. Returning an
// error asks for redelivery, so handlers must be idempotent on the event id.
type Handler func(ctx context.Context, e event.Event) error

// Start consumes CloudEvents from SQS (Lambda) or from a Knative Trigger,
// where check authenticates every delivery (runtime.CallerCheck). On Lambda
// it never returns; on Knative it returns after a graceful shutdown, as
// runtime.StartHTTP does.
func Start(h Handler, check runtime.CallerCheck) {
	if runtime.OnLambda() {
		lambda.Start(lambdaEventHandler{handle: h}.invoke)
		return
	}
	runtime.ServeUntilSignal(runtime.Guard(check, cloudEventsHandler(h)))
}
