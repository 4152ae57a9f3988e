// Package envelope builds the shop's events, the light way: a structured
// CloudEvent 1.0 (github.com/cloudevents/sdk-go/v2's event package, which
// it exports as cloudevents.Event) with every attribute the catalog's
// envelope requires, checked against what a bus can carry, without the
// catalog's schemas. It is what a service that writes events to its outbox
// links (shared/outbox); package eventbus is the same plus the catalog, for
// code that puts events on the bus.
//
//	e, err := envelope.New(ctx, envelope.Spec{
//		Type: "shop.order.confirmed.v1", Source: naming.EventSource("orders"), Subject: o.ID,
//		ID: envelope.ID("shop.order.confirmed.v1", o.ID), Data: confirmed,
//	})
//
// Why two packages: a producer need not pay at its cold start for what
// checking against the catalog takes (the schemas, a JSON Schema validator,
// the first use of each schema), nor for the EventBridge client. Its events
// are checked against their schemas by its tests, and again by its relay
// before they go on the bus (a record that fails is parked in the relay's
// dead-letter queue); this package links the CloudEvents event package
// only (about 0.1 ms of init), not the SDK's client and protocol packages.
package envelope

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/shop-serverless/shop/shared/httpapi"
	"github.com/shop-serverless/shop/shared/tracing"
)

// Extension attributes the shop's events may carry (see the envelope
// schema, events/cloudevent.schema.json).
const (
	// ExtCorrelationID is the correlation id of the request that caused the
	// event: a consumer continues the correlation with it.
	ExtCorrelationID = "correlationid"
	// ExtTraceParent is the W3C trace context of the code that made the
	// event (the CloudEvents distributed-tracing extension).
	ExtTraceParent = "traceparent"
)

// SchemaURI is the dataschema of events of eventType: its schema's $id in
// the catalog (catalog.SchemaURI, which a test keeps equal).
func SchemaURI(eventType string) string { return "urn:shop:event:" + eventType }

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
// attribute, data that does not marshal, an entry over MaxEntryBytes, or
// (package eventbus) a schema violation. Retrying cannot fix it.
var ErrInvalid = errors.New("eventbus: invalid event")

// MaxEntryBytes is the most an event may weigh as an EventBridge PutEvents
// entry, counted as EventBridge counts it (EntrySize). Every event is held
// to it, on Knative too, so that an event is valid or not whatever the bus.
const MaxEntryBytes = 256 * 1024

// timeEntryBytes is what an entry's Time counts for, whatever its value.
const timeEntryBytes = 14

// New builds the event s describes: specversion 1.0, datacontenttype
// application/json, dataschema SchemaURI(type), the correlation id of
// ctx's request (httpapi.CorrelationID) and its trace (tracing.TraceParent:
// ctx's current span, which a consumer's span continues) when there are
// any. It returns the event only if it passes Check.
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
	e.SetDataSchema(SchemaURI(s.Type))
	if id := httpapi.CorrelationID(ctx); id != "" {
		e.SetExtension(ExtCorrelationID, id)
	}
	if tp := tracing.TraceParent(ctx); tp != "" {
		e.SetExtension(ExtTraceParent, tp)
	}
	data := s.Data
	if b, ok := data.([]byte); ok {
		data = json.RawMessage(b) // []byte alone would be sent as base64
	}
	if err := e.SetData(event.ApplicationJSON, data); err != nil {
		return event.Event{}, fmt.Errorf("%w: %s %s: data: %w", ErrInvalid, s.Type, s.ID, err)
	}
	if _, _, err := Encode(e); err != nil {
		return event.Event{}, err
	}
	return e, nil
}

// Check is what every event passes before it is stored or sent: a valid
// CloudEvent, with JSON data, whose EventBridge entry is within
// MaxEntryBytes. The error wraps ErrInvalid. (eventbus.Check adds the
// catalog's schema.)
func Check(e event.Event) error {
	_, _, err := Encode(e)
	return err
}

// Encode returns e's structured JSON and the size of its EventBridge entry,
// or why e fails Check.
func Encode(e event.Event) (structured []byte, entrySize int, err error) {
	if err := e.Validate(); err != nil {
		return nil, 0, fmt.Errorf("%w: %s %s: %w", ErrInvalid, e.Type(), e.ID(), err)
	}
	if e.DataContentType() != event.ApplicationJSON || e.DataBase64 || !json.Valid(e.Data()) {
		return nil, 0, fmt.Errorf("%w: %s %s: data must be JSON (datacontenttype %s)", ErrInvalid, e.Type(), e.ID(), event.ApplicationJSON)
	}
	structured, err = json.Marshal(e)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s %s: %w", ErrInvalid, e.Type(), e.ID(), err)
	}
	size := EntrySize(e.Source(), e.Type(), structured, !e.Time().IsZero())
	if size > MaxEntryBytes {
		return nil, 0, fmt.Errorf("%w: %s %s: its EventBridge entry is %d bytes, over the %d-byte limit", ErrInvalid, e.Type(), e.ID(), size, MaxEntryBytes)
	}
	return structured, size, nil
}

// EntrySize is the size EventBridge counts for a PutEvents entry without
// resources ("Calculating PutEvents event entry size", in its user guide):
// 14 bytes for Time if set, and the UTF-8 bytes of Source, DetailType and
// Detail (Go strings hold UTF-8: their length is their UTF-8 size). The bus
// name and the trace header do not count.
func EntrySize(source, detailType string, detail []byte, hasTime bool) int {
	n := len(source) + len(detailType) + len(detail)
	if hasTime {
		n += timeEntryBytes
	}
	return n
}
