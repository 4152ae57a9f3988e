// Package eventbus builds the shop's events and puts them on the bus. Every
// event is a structured CloudEvent 1.0 (github.com/cloudevents/sdk-go/v2's
// event package: cloudevents.Event), checked against its type's schema in
// the catalog (events/) and against the bus's entry limit before anything
// stores or sends it.
//
//	e, err := eventbus.New(ctx, eventbus.Spec{
//		Type: "shop.order.confirmed.v1", Source: naming.EventSource("orders"), Subject: o.ID,
//		ID: eventbus.ID("shop.order.confirmed.v1", o.ID), Data: confirmed,
//	})
//
// A service does not publish its own events: it writes them to its outbox in
// the transaction that makes the change (shared/outbox), and its relay
// publishes them. Publishers (Publisher; FromEnv picks one):
//
//   - EventBridge, on AWS: one PutEvents entry per event with Source = the
//     event's source, DetailType = its type and Detail = the structured
//     CloudEvent, so a consumer gets back exactly what was sent. Entries go
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
// and protocol packages (and their logging stack): a function that merely
// builds events pays the event package's init (about 0.1 ms) and nothing
// else; the EventBridge client is made on first use.
package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	catalog "github.com/shop-serverless/shop/events"
	"github.com/shop-serverless/shop/shared/httpapi"
)

// Extension attributes the shop's events may carry (see the envelope,
// events/cloudevent.schema.json).
const (
	// ExtCorrelationID is the correlation id of the request that caused the
	// event: a consumer continues the correlation with it.
	ExtCorrelationID = "correlationid"
	// ExtTraceParent is the W3C trace context of the code that made the
	// event (the CloudEvents distributed-tracing extension).
	ExtTraceParent = "traceparent"
)

// Spec is what an event is made of; New adds the rest of the envelope.
type Spec struct {
	Type    string // a catalog type: shop.order.confirmed.v1
	Source  string // naming.EventSource(service) for the shop's services
	Subject string // the id of what the event is about: an order, a user, a product
	// ID is the event's id. Make it with ID from what identifies the change,
	// so that a handler retried after a lost answer makes the same event,
	// and consumers, who deduplicate on it, see one.
	ID   string
	Time time.Time // zero: now
	Data any       // marshalled as JSON; json.RawMessage or []byte is taken as JSON already
}

// idSpace is the namespace of event ids (RFC 9562 name-based UUIDs).
var idSpace = uuid.MustParse("3c7c8f0e-5d2a-4b6e-9a41-7f0d2c9e8b15")

// ID is the deterministic id of the event named by parts, joined with "/":
// ID(type, orderID), ID(type, userID, version). A version-5 UUID (SHA-1), so
// the same change always gets the same id and different changes different
// ones.
func ID(parts ...string) string {
	return uuid.NewSHA1(idSpace, []byte(strings.Join(parts, "/"))).String()
}

// ErrInvalid is an event that cannot be made or sent as it is: a missing
// attribute, data that does not marshal, a schema violation (the error then
// also wraps a *catalog.ValidationError) or an entry over MaxEntryBytes.
// Retrying cannot fix it.
var ErrInvalid = errors.New("eventbus: invalid event")

// New builds the event s describes: specversion 1.0, datacontenttype
// application/json, dataschema catalog.SchemaURI(type), the correlation id
// of ctx's request (httpapi.CorrelationID) and its trace (the Lambda
// invocation's X-Ray trace as traceparent) when there are any. It returns
// the event only if it passes Check.
func New(ctx context.Context, s Spec) (event.Event, error) {
	for _, a := range [...]struct{ name, value string }{{"type", s.Type}, {"source", s.Source}, {"subject", s.Subject}, {"id", s.ID}} {
		if a.value == "" {
			return event.Event{}, fmt.Errorf("%w: event %q about %q has no %s", ErrInvalid, s.Type, s.Subject, a.name)
		}
	}
	e := event.New()
	e.SetID(s.ID)
	e.SetType(s.Type)
	e.SetSource(s.Source)
	e.SetSubject(s.Subject)
	at := s.Time
	if at.IsZero() {
		at = time.Now()
	}
	e.SetTime(at.UTC())
	e.SetDataSchema(catalog.SchemaURI(s.Type))
	if id := httpapi.CorrelationID(ctx); id != "" {
		e.SetExtension(ExtCorrelationID, id)
	}
	if tp := traceParent(lambdaTraceHeader(ctx)); tp != "" {
		e.SetExtension(ExtTraceParent, tp)
	}
	data := s.Data
	if b, ok := data.([]byte); ok {
		data = json.RawMessage(b) // []byte alone would be sent as base64
	}
	if err := e.SetData(event.ApplicationJSON, data); err != nil {
		return event.Event{}, fmt.Errorf("%w: %s %s: data: %w", ErrInvalid, s.Type, s.ID, err)
	}
	if err := e.Validate(); err != nil {
		return event.Event{}, fmt.Errorf("%w: %s %s: %w", ErrInvalid, s.Type, s.ID, err)
	}
	if err := Check(e); err != nil {
		return event.Event{}, err
	}
	return e, nil
}

// Check is what every event passes before it is stored in an outbox or put on
// a bus: its type's schema in the catalog, and the bus's entry limit
// (MaxEntryBytes). The error wraps ErrInvalid, and a *catalog.ValidationError
// or catalog.ErrUnknownType when the schema is what failed.
func Check(e event.Event) error {
	_, _, err := encode(e)
	return err
}

// encode returns e's structured JSON and the size of its EventBridge entry,
// or why e fails Check.
func encode(e event.Event) ([]byte, int, error) {
	detail, err := json.Marshal(e)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s %s: %w", ErrInvalid, e.Type(), e.ID(), err)
	}
	if err := catalog.Validate(e.Type(), detail); err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %w", ErrInvalid, e.ID(), err)
	}
	size := entrySize(e.Source(), e.Type(), detail, !e.Time().IsZero())
	if size > MaxEntryBytes {
		return nil, 0, fmt.Errorf("%w: %s %s: its EventBridge entry is %d bytes, over the %d-byte limit", ErrInvalid, e.Type(), e.ID(), size, MaxEntryBytes)
	}
	return detail, size, nil
}

// lambdaTraceHeader is the X-Ray trace header of the current Lambda
// invocation ("Root=1-...;Parent=...;Sampled=1"), where aws-lambda-go puts
// it in the context; "" elsewhere.
func lambdaTraceHeader(ctx context.Context) string {
	h, _ := ctx.Value("x-amzn-trace-id").(string)
	return h
}

// traceParent turns an X-Ray trace header into a W3C traceparent, as AWS
// maps one onto the other (the root's two hex parts are the trace id); ""
// when the header lacks a root or a parent (a traceparent needs both).
func traceParent(xray string) string {
	var root, parent, sampled string
	for _, field := range strings.Split(xray, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(field), "=")
		switch k {
		case "Root":
			root = v
		case "Parent":
			parent = v
		case "Sampled":
			sampled = v
		}
	}
	parts := strings.Split(root, "-")
	if len(parts) != 3 || parts[0] != "1" || len(parts[1]) != 8 || len(parts[2]) != 24 || len(parent) != 16 {
		return ""
	}
	traceID := strings.ToLower(parts[1] + parts[2])
	parent = strings.ToLower(parent)
	if !isHex(traceID) || !isHex(parent) || strings.Trim(traceID, "0") == "" || strings.Trim(parent, "0") == "" {
		return ""
	}
	flags := "00"
	if sampled == "1" {
		flags = "01"
	}
	return "00-" + traceID + "-" + parent + "-" + flags
}

func isHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
