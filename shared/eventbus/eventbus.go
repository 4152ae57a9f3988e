// Package eventbus puts the shop's events on the bus. Every event is a
// structured CloudEvent 1.0 (github.com/cloudevents/sdk-go/v2's event
// package: cloudevents.Event), checked against its type's schema in the
// catalog (events/) and against the bus's entry limit before it is sent.
//
//	e, err := eventbus.New(ctx, eventbus.Spec{
//		Type: "shop.order.confirmed.v1", Source: naming.EventSource("orders"), Subject: o.ID,
//		ID: eventbus.ID("shop.order.confirmed.v1", o.ID), Data: confirmed,
//	})
//	pub, err := eventbus.FromEnv()
//	err = pub.Publish(ctx, e)
//
// A service does not publish its own events: it writes them to its outbox in
// the transaction that makes the change (shared/outbox, which builds them
// with package envelope: this package without the catalog, whose schema
// library costs milliseconds of every cold start), and its relay
// (shared/outbox/relay) publishes them. What links this package: the relays,
// the ingest endpoint, tests.
//
// Publishers (Publisher; FromEnv picks one):
//
//   - EventBridge, on AWS: one PutEvents entry per event with Source = the
//     event's source, DetailType = its type and Detail = the structured
//     CloudEvent, so a consumer gets back exactly what was sent, and
//     TraceHeader the event's own trace (Traced; by default the span that
//     made it, from its traceparent), not the caller's. Entries go
//     in batches of at most MaxBatch; an entry the bus fails
//     (FailedEntryCount) is sent again, alone with the other failures, after
//     a backoff. The local emulator checks neither size nor schema, so the
//     publisher does, before the call.
//   - Sink, on Knative: each event POSTed in structured mode to K_SINK (the
//     broker a SinkBinding names).
//
// A publisher's error is a *PublishError naming every event it could not
// publish and whether that is permanent (the event itself is at fault: its
// schema, its size, an entry the bus refused as malformed) or transient
// (worth trying again later).
//
// The package links the CloudEvents event package only, not the SDK's client
// and protocol packages (and their logging stack); the EventBridge client is
// made on first use.
package eventbus

import (
	"context"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"

	catalog "github.com/shop-serverless/shop/events"
	"github.com/shop-serverless/shop/shared/eventbus/envelope"
)

// Spec is what an event is made of (envelope.Spec).
type Spec = envelope.Spec

// Extension attributes the shop's events may carry.
const (
	ExtCorrelationID = envelope.ExtCorrelationID
	ExtTraceParent   = envelope.ExtTraceParent
)

// ErrInvalid is an event that cannot be made or sent as it is: a missing
// attribute, data that does not marshal, a schema violation (the error then
// also wraps a *catalog.ValidationError or catalog.ErrUnknownType) or an
// entry over MaxEntryBytes. Retrying cannot fix it.
var ErrInvalid = envelope.ErrInvalid

// ID is the deterministic id of the event named by parts (envelope.ID):
// ID(type, orderID), ID(type, userID, version).
func ID(parts ...string) string { return envelope.ID(parts...) }

// New builds the event s describes, as envelope.New does, and returns it
// only if it also passes its type's schema.
func New(ctx context.Context, s Spec) (event.Event, error) {
	e, err := envelope.New(ctx, s)
	if err != nil {
		return event.Event{}, err
	}
	if err := Check(e); err != nil {
		return event.Event{}, err
	}
	return e, nil
}

// Check is what every event passes before it is put on a bus:
// envelope.Check (a valid CloudEvent with JSON data, within the entry
// limit) and its type's schema in the catalog.
func Check(e event.Event) error {
	_, _, err := encode(e)
	return err
}

// encode returns e's structured JSON and the size of its EventBridge entry,
// or why e fails Check.
func encode(e event.Event) ([]byte, int, error) {
	detail, size, err := envelope.Encode(e)
	if err != nil {
		return nil, 0, err
	}
	if err := catalog.Validate(e.Type(), detail); err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %w", ErrInvalid, e.ID(), err)
	}
	return detail, size, nil
}
