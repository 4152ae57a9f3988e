package orders

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/store"
)

// Item layout in the orders table (see service.yaml):
//
//	ORDER#<id> / STATE                the order's current state (Order); gsi1:
//	                                  USER#<userId> / <createdAt, fixed width>#<id>,
//	                                  so a user's orders list newest first
//	ORDER#<id> / EVENT#<%010d version> one event (Event), never changed
//
// Every change is one TransactWriteItems: the event, put only if its
// version is new, and the state item, put only if it still has the version
// the change was decided on, and, for an event other services hear of, its
// published event in the outbox (published.go; shared/outbox). Of two
// writers deciding on the same version one wins; the other reloads and
// decides again (Store.change). The event items alone rebuild the state
// item (Rebuild).
const (
	skState     = "STATE"
	eventPrefix = "EVENT#"
	gsi1        = "gsi1"
	// sortTime is createdAt in gsi1sk: fixed width, so string order is
	// time order (RFC 3339 with trimmed nanoseconds is not).
	sortTime = "2006-01-02T15:04:05.000000000Z"
)

// listCursorAttrs are the attributes of a gsi1 LastEvaluatedKey.
var listCursorAttrs = []string{store.PK, store.SK, "gsi1pk", "gsi1sk"}

func orderPK(id string) string             { return "ORDER#" + id }
func eventSK(version int64) string         { return fmt.Sprintf("%s%010d", eventPrefix, version) }
func userPK(userID string) string          { return "USER#" + userID }
func stateKey(id string) store.Item        { return store.Key(orderPK(id), skState) }
func userSK(o Order) string                { return o.CreatedAt.UTC().Format(sortTime) + "#" + o.ID }
func jitter(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }

type stateItem struct {
	PK     string `dynamodbav:"pk"`
	SK     string `dynamodbav:"sk"`
	GSI1PK string `dynamodbav:"gsi1pk"`
	GSI1SK string `dynamodbav:"gsi1sk"`
	Order
}

type eventItem struct {
	PK string `dynamodbav:"pk"`
	SK string `dynamodbav:"sk"`
	Event
}

// maxChangeAttempts bounds how often a change is decided again after
// losing to another writer. Two writers at most contend for one order (the
// saga's step and the customer's cancel), so a handful of attempts settles
// any real race.
const maxChangeAttempts = 6

// Store persists orders and their events in the service's table.
type Store struct {
	db    store.DB
	table string
	now   func() time.Time
}

// NewStore returns a Store on table.
func NewStore(db store.DB, table string) *Store {
	return &Store{db: db, table: table, now: func() time.Time { return time.Now().UTC() }}
}

// Get returns the order with id, or ErrOrderNotFound.
func (s *Store) Get(ctx context.Context, id string) (Order, error) {
	item, err := store.Get(ctx, s.db, s.table, stateKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return Order{}, ErrOrderNotFound
	}
	if err != nil {
		return Order{}, err
	}
	var it stateItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return Order{}, fmt.Errorf("unmarshal order %s: %w", id, err)
	}
	return it.Order, nil
}

// Place stores a new order id as placed (event 1, OrderPlaced): PENDING,
// with order.created in the outbox. ErrOrderExists if id is taken. Safe to
// retry (store.TransactWrite).
func (s *Store) Place(ctx context.Context, id string, p Placed) (Order, error) {
	e := Event{OrderID: id, Version: 1, Type: EventOrderPlaced, At: s.now(), Placed: &p}
	o, err := Apply(Order{}, e)
	if err != nil {
		return Order{}, err
	}
	state, event, err := marshalChange(o, e)
	if err != nil {
		return Order{}, err
	}
	announced, err := s.announce(ctx, o, e)
	if err != nil {
		return Order{}, err
	}
	ops := append([]types.TransactWriteItem{putNew(s.table, event), putNew(s.table, state)}, announced...)
	// Each of the three exists exactly when the order does.
	taken := map[int]error{0: ErrOrderExists, 1: ErrOrderExists, 2: ErrOrderExists}
	if err := store.MapTxError(store.TransactWrite(ctx, s.db, &dynamodb.TransactWriteItemsInput{TransactItems: ops}), taken); err != nil {
		return Order{}, err
	}
	return o, nil
}

// putNew puts item only if its key is free.
func putNew(table string, item store.Item) types.TransactWriteItem {
	return types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(table), Item: item,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": store.PK},
	}}
}

// decision is what an operation makes of an order as it stands: the event
// to append (its Type and data; the store sets OrderID, Version and At), or
// nil when the order is already as the operation wants it.
type decision func(o Order) (*Event, error)

// change applies decide to the order id (starting from loaded, if it is
// that order as just read, to save a read) and appends the event it asks
// for. When another writer changed the order in between, the order is read
// again and decide asked again, up to maxChangeAttempts times. It returns the
// order after the change, or as it stands when decide wanted none.
//
// A transaction DynamoDB applied but whose answer was lost is retried by
// the SDK with the same ClientRequestToken, which DynamoDB recognises
// (store.TransactWrite); should the call fail all the same, the next
// attempt reads the order with the event in it, and decide, which every
// operation makes idempotent, wants nothing more.
func (s *Store) change(ctx context.Context, id string, loaded *Order, decide decision) (Order, error) {
	for attempt := 1; ; attempt++ {
		var o Order
		if loaded != nil && attempt == 1 {
			o = *loaded
		} else {
			var err error
			if o, err = s.Get(ctx, id); err != nil {
				return Order{}, err
			}
		}
		e, err := decide(o)
		if err != nil || e == nil {
			return o, err
		}
		e.OrderID, e.Version, e.At = o.ID, o.Version+1, s.now()
		next, err := Apply(o, *e)
		if err != nil {
			return Order{}, err
		}
		err = s.append(ctx, o.Version, next, *e)
		if err == nil {
			return next, nil
		}
		if !errors.Is(err, errRaced) || attempt == maxChangeAttempts {
			return Order{}, err
		}
		select {
		case <-time.After(jitter(time.Duration(attempt) * 20 * time.Millisecond)):
		case <-ctx.Done():
			return Order{}, ctx.Err()
		}
	}
}

// errRaced is a change that lost to another writer's.
var errRaced = errors.New("orders: the order changed meanwhile")

// append writes e, the state next and e's published event, if it has one,
// in one transaction, provided the state item still has version prior.
func (s *Store) append(ctx context.Context, prior int64, next Order, e Event) error {
	state, event, err := marshalChange(next, e)
	if err != nil {
		return err
	}
	announced, err := s.announce(ctx, next, e)
	if err != nil {
		return err
	}
	ops := append([]types.TransactWriteItem{
		putNew(s.table, event),
		{Put: &types.Put{
			TableName: aws.String(s.table), Item: state,
			ConditionExpression:       aws.String("#version = :prior"),
			ExpressionAttributeNames:  map[string]string{"#version": store.VersionAttr},
			ExpressionAttributeValues: map[string]types.AttributeValue{":prior": store.N(prior)},
		}},
	}, announced...)
	err = store.TransactWrite(ctx, s.db, &dynamodb.TransactWriteItemsInput{TransactItems: ops})
	if err == nil {
		return nil
	}
	// A failed condition (any item: the published event exists only if the
	// order's event does) or a concurrent transaction on the same items:
	// someone else changed the order.
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		return fmt.Errorf("%w: %w", errRaced, err)
	}
	return fmt.Errorf("append %s to order %s: %w", e.Type, e.OrderID, err)
}

func marshalChange(o Order, e Event) (state, event store.Item, err error) {
	state, err = attributevalue.MarshalMap(stateItem{PK: orderPK(o.ID), SK: skState, GSI1PK: userPK(o.UserID), GSI1SK: userSK(o), Order: o})
	if err != nil {
		return nil, nil, fmt.Errorf("marshal order %s: %w", o.ID, err)
	}
	event, err = attributevalue.MarshalMap(eventItem{PK: orderPK(e.OrderID), SK: eventSK(e.Version), Event: e})
	if err != nil {
		return nil, nil, fmt.Errorf("marshal event %s v%d: %w", e.OrderID, e.Version, err)
	}
	return state, event, nil
}

// Events returns the order's events, oldest first (a strongly consistent
// read: every event appended before the call).
func (s *Store) Events(ctx context.Context, id string) ([]Event, error) {
	var events []Event
	var start store.Item
	for {
		out, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.table),
			KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :events)"),
			ExpressionAttributeNames:  map[string]string{"#pk": store.PK, "#sk": store.SK},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": store.S(orderPK(id)), ":events": store.S(eventPrefix)},
			ConsistentRead:            aws.Bool(true),
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, fmt.Errorf("query events of order %s: %w", id, err)
		}
		for _, item := range out.Items {
			var it eventItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return nil, fmt.Errorf("unmarshal event of order %s: %w", id, err)
			}
			events = append(events, it.Event)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return events, nil
		}
		start = out.LastEvaluatedKey
	}
}

// ErrDiverged is an order whose events do not rebuild its state item.
var ErrDiverged = errors.New("orders: the events do not rebuild the state item")

// Verify reads the order id's state item and events and checks that the
// events rebuild exactly that state (Rebuild): the event-sourcing invariant,
// which a test can check for every order a run placed. ErrDiverged, with
// both orders, when they differ.
func (s *Store) Verify(ctx context.Context, id string) error {
	state, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	events, err := s.Events(ctx, id)
	if err != nil {
		return err
	}
	rebuilt, err := Rebuild(events)
	if err != nil {
		return fmt.Errorf("order %s: %w", id, err)
	}
	if !reflect.DeepEqual(rebuilt, state) {
		return fmt.Errorf("%w: order %s: rebuilt from %d events %+v, state item %+v", ErrDiverged, id, len(events), rebuilt, state)
	}
	return nil
}

// ListByUser returns up to limit of the user's orders, newest first, after
// cursor, and the cursor of the next page ("" on the last page).
// ErrInvalidCursor for a cursor this method did not return for this user.
func (s *Store) ListByUser(ctx context.Context, userID string, limit int32, cursor string) ([]Order, string, error) {
	start, err := store.DecodeCursor(cursor, listCursorAttrs...)
	if err != nil {
		return nil, "", ErrInvalidCursor
	}
	if start != nil {
		if pk, ok := start["gsi1pk"].(*types.AttributeValueMemberS); !ok || pk.Value != userPK(userID) {
			return nil, "", ErrInvalidCursor
		}
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(gsi1),
		KeyConditionExpression:    aws.String("#gpk = :user"),
		ExpressionAttributeNames:  map[string]string{"#gpk": "gsi1pk"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":user": store.S(userPK(userID))},
		ScanIndexForward:          aws.Bool(false),
		ExclusiveStartKey:         start,
		Limit:                     aws.Int32(limit),
	})
	if err != nil {
		return nil, "", fmt.Errorf("query orders of user %s: %w", userID, err)
	}
	orders := make([]Order, 0, len(out.Items))
	for _, item := range out.Items {
		var it stateItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return nil, "", fmt.Errorf("unmarshal order: %w", err)
		}
		orders = append(orders, it.Order)
	}
	next, err := store.EncodeCursor(out.LastEvaluatedKey)
	if err != nil {
		return nil, "", err
	}
	return orders, next, nil
}
