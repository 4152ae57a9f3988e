// Package outbox keeps a state change and the event that announces it
// together: a handler adds the event's outbox item to the very
// TransactWriteItems that makes the change, so the event exists exactly
// when the change committed. The service's relay (a function of kind
// stream, shared/outbox/relay) reads the table's DynamoDB stream, filtered
// to new outbox items (FilterPattern), and publishes each item's events to
// the bus.
//
//	e, err := envelope.New(ctx, envelope.Spec{Type: ..., ID: envelope.ID(typ, orderID), ...})
//	put, err := outbox.Item(table, e)
//	ops = append(ops, put) // beside the change's own operations
//
// Item layout, in the service's own table:
//
//	pk     = OUTBOX#<id of the change's first event>, sk = OUTBOX
//	events = JSON array of the change's structured CloudEvents (S), in order
//	ttl    = when the item may go (epoch seconds)
//
// One item per change, however many events the change makes (a
// reservation of 50 products may leave several low on stock): a
// transaction holds at most 100 items, and the change needs most of them.
//
// The item is put only if its key is free, and event ids are deterministic
// (envelope.ID of what identifies the change), so a change can never carry
// its event twice: a retried handler either finds its change made and
// writes nothing, or its transaction, outbox item and all, is refused.
//
// This package links no catalog and no bus client (producers link it: see
// package envelope); the events are checked against their schemas by the
// producers' tests and by the relay, which parks a record it can never
// publish in its dead-letter queue.
package outbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/shared/eventbus/envelope"
	"github.com/shop-serverless/shop/shared/store"
)

// Keys of outbox items.
const (
	KeyPrefix = "OUTBOX#"
	SortKey   = "OUTBOX"
)

// Attributes of outbox items.
const (
	AttrEvents = "events"
	// AttrTTL is the TTL attribute of every service table (table.ttl in
	// the service.yaml files, which a test keeps equal).
	AttrTTL = "ttl"
)

// TTL is how long an outbox item stays in its table after it was written:
// its stream record lives 24 hours, the relay's retries and the stream
// mapping's maximum record age end within that; the rest is for an
// operator who finds a record parked in the dead-letter queue and wants
// the item it came from.
const TTL = 7 * 24 * time.Hour

// FilterPattern is the Lambda event-source-mapping filter that lets only
// new outbox items reach a relay: inserts whose partition key starts with
// KeyPrefix. TTL deletions (REMOVE) and every other item stay out.
const FilterPattern = `{"eventName":["INSERT"],"dynamodb":{"NewImage":{"pk":{"S":[{"prefix":"OUTBOX#"}]}}}}`

// maxItemBytes is DynamoDB's item size limit.
const maxItemBytes = 400 * 1024

// ErrNoEvents is an outbox item asked for without events.
var ErrNoEvents = errors.New("outbox: an outbox item needs at least one event")

// Key is the key of the outbox item whose first event has id firstEventID.
func Key(firstEventID string) store.Item { return store.Key(KeyPrefix+firstEventID, SortKey) }

// Item is the transaction operation that writes events, in order, as one
// outbox item in table: a Put conditioned on the key being free. Every
// event must pass envelope.Check (the error wraps envelope.ErrInvalid) and
// the item must fit DynamoDB's item limit. The item expires TTL from now.
func Item(table string, events ...event.Event) (types.TransactWriteItem, error) {
	if len(events) == 0 {
		return types.TransactWriteItem{}, ErrNoEvents
	}
	raw := make([]json.RawMessage, len(events))
	for i, e := range events {
		b, _, err := envelope.Encode(e)
		if err != nil {
			return types.TransactWriteItem{}, fmt.Errorf("outbox: %w", err)
		}
		raw[i] = b
	}
	body, err := json.Marshal(raw)
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("outbox: %w", err)
	}
	item := Key(events[0].ID())
	item[AttrEvents] = store.S(string(body))
	item[AttrTTL] = store.N(time.Now().Add(TTL).Unix())
	if size := itemSize(item); size > maxItemBytes {
		return types.TransactWriteItem{}, fmt.Errorf("outbox: %w: the item of %d events from %s is %d bytes, over DynamoDB's %d",
			envelope.ErrInvalid, len(events), events[0].ID(), size, maxItemBytes)
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName:                aws.String(table),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": store.PK},
	}}, nil
}

// itemSize is DynamoDB's size of an item of string and number attributes:
// each name's length plus its value's (a string's UTF-8 bytes; a number
// counted at its most, 21 bytes).
func itemSize(item store.Item) int {
	n := 0
	for name, v := range item {
		n += len(name)
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			n += len(v.Value)
		default:
			n += 21
		}
	}
	return n
}

// Decode parses an outbox item's events attribute into its events, in the
// order they were written. Each is a CloudEvent as the JSON said; whether
// it is a valid shop event is the caller's to check.
func Decode(events string) ([]event.Event, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal([]byte(events), &raw); err != nil {
		return nil, fmt.Errorf("outbox: events is not a JSON array: %w", err)
	}
	if len(raw) == 0 {
		return nil, ErrNoEvents
	}
	out := make([]event.Event, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			return nil, fmt.Errorf("outbox: event %d is not a CloudEvent: %w", i, err)
		}
	}
	return out, nil
}
