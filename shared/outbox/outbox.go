// Package outbox keeps a state change and the event that announces it
// together: a handler adds the event's outbox item to the very
// TransactWriteItems that makes the change, so the event exists exactly
// when the change committed. The service's relay (a function of kind
// stream) reads the table's DynamoDB stream, filtered to new outbox items
// (FilterPattern), and publishes each item's event to the bus.
//
// Item layout, in the service's own table:
//
//	pk = OUTBOX#<event id>, sk = OUTBOX
//	event = the structured CloudEvent JSON (S), type = its type (S),
//	ttl   = when the item may go (epoch seconds)
package outbox

// Keys of outbox items.
const (
	KeyPrefix = "OUTBOX#"
	SortKey   = "OUTBOX"
)

// Attributes of outbox items.
const (
	AttrEvent = "event"
	AttrType  = "type"
)

// FilterPattern is the Lambda event-source-mapping filter that lets only
// new outbox items reach a relay: inserts whose partition key starts with
// KeyPrefix. TTL deletions (REMOVE) and every other item stay out.
const FilterPattern = `{"eventName":["INSERT"],"dynamodb":{"NewImage":{"pk":{"S":[{"prefix":"OUTBOX#"}]}}}}`
