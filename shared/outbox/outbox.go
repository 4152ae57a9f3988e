// Package outbox keeps a state change and the event that announces it
// together: a handler adds the event's outbox item to the very
// TransactWriteItems that makes the change, so the event exists exactly
// when the change committed. The service's relay (a function of kind
// stream) reads the table's DynamoDB stream, filtered to new outbox items
// (FilterPattern), and publishes each item's event to the bus.
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
package outbox

// Keys of outbox items.
const (
	KeyPrefix = "OUTBOX#"
	SortKey   = "OUTBOX"
)

// Attributes of outbox items.
const (
	AttrEvents = "events"
)

// FilterPattern is the Lambda event-source-mapping filter that lets only
// new outbox items reach a relay: inserts whose partition key starts with
// KeyPrefix. TTL deletions (REMOVE) and every other item stay out.
const FilterPattern = `{"eventName":["INSERT"],"dynamodb":{"NewImage":{"pk":{"S":[{"prefix":"OUTBOX#"}]}}}}`
