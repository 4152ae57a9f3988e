// Package consumer starts a shop function that consumes CloudEvents (kind
// event), on AWS Lambda or on Knative as package runtime decides. It is a
// package of its own so that HTTP functions and saga steps do not link the
// CloudEvents SDK: Go runs the init of every imported package, and that
// cost is paid on every cold start.
//
// A consumer's main names the scope a Knative sender needs and builds its
// handler:
//
//	func main() {
//		consumer.Start(notifications.ScopeDeliver, func(d consumer.Deps) (consumer.Handler, error) {
//			return consumer.Inbound(notifications.Notify(notifications.NewStore(d.DB, d.Config.Table))), nil
//		})
//	}
//
// A Handler takes the SDK's event; a service package's handler takes an
// inbound.Event instead (adapted by Inbound), so that the HTTP functions of
// the same package do not link the SDK.
//
// # Every delivery
//
// Whatever the platform, each event goes through the same steps before and
// around the handler (Consumer):
//
//   - it is checked against its type's schema in the catalog (events/):
//     an event anyone with IAM rights put on the bus has been checked by
//     nobody. An undecodable event, one of a type the catalog does not
//     know, or one against its schema is poison: a PermanentError, and the
//     handler never sees it;
//   - it is deduplicated on its identity (source and id) per consumer
//     (Claims, in the service's own table, remembered RecordTTL), so a
//     redelivery, a duplicate SQS delivery or an archive replay has no
//     second effect; a delivery that finds another one handling the event
//     fails with ErrInProgress and comes back later;
//   - the fault switch (shared/faults, tests only) may fail it, keyed by
//     the event's subject;
//   - the handler's logger carries the event's id, type, source, subject
//     and correlation id, the invocation's request id, the trace id of the
//     context and whether it is a cold start; the context carries the
//     correlation id;
//   - it is handled in a span of its own (shared/tracing) that continues
//     the trace the transport carried when it names a parent (an SQS
//     message's AWSTraceHeader on AWS; a Knative request's
//     X-Amzn-Trace-Id), else the trace of the code that made the event
//     (its traceparent: the local emulator carries no trace through
//     EventBridge), annotated with the event's type and id and the order
//     and user its data names; it ends with the delivery's outcome;
//   - each event handled (a duplicate is not) counts as EventsConsumed, a
//     poison message as DeadLettered once, and each invocation (a batch)
//     emits its invocation metrics, a failed item counting as an error
//     (shared/metrics).
//
// A handler returns an error to have the event delivered again, wrapped in
// Permanent (or inbound.Permanent) when no redelivery can help.
//
// # Lambda
//
// The function is the target of an SQS event source mapping with
// ReportBatchItemFailures: each record is an EventBridge envelope whose
// detail is a structured-mode CloudEvent. Each failed record is reported as
// a batch item failure (the others are deleted), and its visibility is
// changed on its queue (SHOP_QUEUE_URL) by the Backoff: a delay growing with
// its receive count, or 0 for a permanent failure, so that poison moves to
// the dead-letter queue (maxReceiveCount 5) in seconds. A direct
// EventBridge invocation or a bare structured CloudEvent (aws lambda
// invoke) is accepted too, and the handler's error becomes the invocation
// error.
//
// # Knative
//
// A CloudEvents HTTP receiver accepts, from a caller the check admits (401
// or 403 otherwise), binary and structured mode: 204 on success, 400 for a
// request that is not a valid event of the catalog and 422 for a handler's
// permanent failure (retrying cannot fix either), 409 with Retry-After
// while another delivery handles the event, 500 when the handler fails so
// that the broker retries. It is served by runtime.Serve, with the same
// probes and shutdown as every other shape.
//
// Like package runtime, this package recovers no panics.
package consumer
