// Package consumer starts a shop function that consumes CloudEvents, on AWS
// Lambda or on Knative as package runtime decides. It is a package of its own
// so that HTTP functions and saga steps do not link the CloudEvents SDK: Go
// runs the init of every imported package, and that cost is paid on every cold
// start.
//
// A consumer's main wires its dependencies and ends with:
//
//	consumer.Start(fn, check) // fn func(context.Context, cloudevents.Event) error
//
// check authenticates a delivery over HTTP (Knative): normally
// auth.ServiceCaller(verifier, scope), so only a sender holding a service
// token with scope gets an event in. For example:
//
//	st := notifications.NewStore(dynamodb.NewFromConfig(aws), cfg.Table)
//	consumer.Start(notifications.OnOrderConfirmed(st), auth.ServiceCaller(verifier, "notifications:deliver"))
//
// # Lambda
//
// The function is the target of an SQS event source mapping with
// ReportBatchItemFailures: each record is an EventBridge envelope whose detail
// is a structured-mode CloudEvent. A record whose event cannot be decoded, or
// whose handler returns an error, is reported as a batch item failure and comes
// back after the visibility timeout (then to the DLQ); the others are deleted.
// A direct EventBridge invocation or a bare structured CloudEvent (aws lambda
// invoke) is accepted too, and the handler's error becomes the invocation
// error. SQSAdapter is the batch part on its own.
//
// # Knative
//
// A CloudEvents HTTP receiver accepts, from a caller check admits (401 or
// 403 otherwise), binary and structured mode: 204 on
// success, 400 for a request that is not a valid event (retrying cannot fix
// it), 500 when the handler fails so that the broker retries. It is served
// by runtime.Serve, with the same probes and shutdown as every other shape.
//
// Like package runtime, this package recovers no panics.
package consumer
