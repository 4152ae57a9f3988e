package notifications

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/store"
)

// Item layout in the notifications table (see service.yaml):
//
//	USER#<userId>       / NOTE#<time>#<eventId>   a notification; <time> is the
//	                                              event's, fixed width, so a
//	                                              user's list reads newest first
//	USER#<userId>       / PREFS                   the user's marketingEmails and
//	                                              the user version it is from
//	ORDER#<orderId>     / ORDER                   an order seen: its user, its
//	                                              products, OPEN or CLOSED
//	PRODUCT#<productId> / PENDING#<orderId>       the order, of userId, is PENDING
//	                                              and holds the product
//
// The last two are the projection stock.low needs ("who waits for this
// product"), kept from order.created (opens) and order.confirmed or
// order.cancelled (closes). Those arrive in any order: a close that comes
// first leaves a CLOSED order item, so the late open changes nothing.
const (
	skPrefs       = "PREFS"
	skOrder       = "ORDER"
	notePrefix    = "NOTE#"
	pendingPrefix = "PENDING#"
	statusOpen    = "OPEN"
	statusClosed  = "CLOSED"
	// sortTime is a notification's time in its sort key: fixed width, so
	// string order is time order.
	sortTime = "2006-01-02T15:04:05.000000000Z"
)

// Retention. A notification is kept NoteTTL; a closed order's item long
// enough that no delivery of its order.created can come after it is gone
// (queues keep messages 4 days, dead-letter queues 14, the archive 30 for
// a replay).
const (
	NoteTTL        = 90 * 24 * time.Hour
	closedOrderTTL = 31 * 24 * time.Hour
)

func userPK(id string) string    { return "USER#" + id }
func orderPK(id string) string   { return "ORDER#" + id }
func productPK(id string) string { return "PRODUCT#" + id }
func noteSK(n Notification) string {
	return notePrefix + n.CreatedAt.UTC().Format(sortTime) + "#" + n.ID
}

// listCursorAttrs are the attributes of a list's LastEvaluatedKey.
var listCursorAttrs = []string{store.PK, store.SK}

type noteItem struct {
	PK  string `dynamodbav:"pk"`
	SK  string `dynamodbav:"sk"`
	TTL int64  `dynamodbav:"ttl"`
	Notification
}

type prefsItem struct {
	PK string `dynamodbav:"pk"`
	SK string `dynamodbav:"sk"`
	Preference
}

type orderItem struct {
	PK       string   `dynamodbav:"pk"`
	SK       string   `dynamodbav:"sk"`
	UserID   string   `dynamodbav:"userId"`
	Products []string `dynamodbav:"products,omitempty"`
	Status   string   `dynamodbav:"status"`
	TTL      int64    `dynamodbav:"ttl,omitempty"`
}

type pendingItem struct {
	PK      string `dynamodbav:"pk"`
	SK      string `dynamodbav:"sk"`
	UserID  string `dynamodbav:"userId"`
	OrderID string `dynamodbav:"orderId"`
}

// Store persists notifications and the projections in the service's table.
type Store struct {
	db    DB
	table string
	now   func() time.Time
}

// NewStore returns a Store on table.
func NewStore(db DB, table string) *Store {
	return &Store{db: db, table: table, now: time.Now}
}

// DB is what the store needs of DynamoDB: store.DB and BatchWriteItem;
// *dynamodb.Client satisfies it.
type DB interface {
	store.DB
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// maxBatchRounds bounds the calls of one batch operation: DynamoDB may
// leave items unprocessed (throttling), which are sent again after a wait.
const maxBatchRounds = 6

// Add stores notifications. Each is a plain put of an item whose key and
// content come from the event alone, so writing it again (a redelivery, a
// replay) leaves the same item: the write is idempotent without a
// condition, and 25 go in one BatchWriteItem.
func (s *Store) Add(ctx context.Context, notes ...Notification) error {
	expiry := s.now().Add(NoteTTL).Unix()
	var writes []types.WriteRequest
	for _, n := range notes {
		item, err := attributevalue.MarshalMap(noteItem{PK: userPK(n.UserID), SK: noteSK(n), TTL: expiry, Notification: n})
		if err != nil {
			return fmt.Errorf("marshal notification: %w", err)
		}
		writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	for chunk := range slices.Chunk(writes, 25) {
		if err := s.batchWrite(ctx, chunk); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) batchWrite(ctx context.Context, writes []types.WriteRequest) error {
	for round := 0; len(writes) > 0; round++ {
		if round == maxBatchRounds {
			return fmt.Errorf("batch write notifications: %d still unprocessed", len(writes))
		}
		if round > 0 {
			if err := sleep(ctx, time.Duration(25<<round)*time.Millisecond); err != nil {
				return err
			}
		}
		out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{s.table: writes}})
		if err != nil {
			return fmt.Errorf("batch write notifications: %w", err)
		}
		writes = out.UnprocessedItems[s.table]
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// List returns up to limit of the user's notifications, newest first, after
// cursor, and the cursor of the next page ("" on the last page).
// ErrInvalidCursor for a cursor this method did not return for this user.
func (s *Store) List(ctx context.Context, userID string, limit int32, cursor string) ([]Notification, string, error) {
	start, err := store.DecodeCursor(cursor, listCursorAttrs...)
	if err != nil {
		return nil, "", ErrInvalidCursor
	}
	if start != nil {
		pk, _ := start[store.PK].(*types.AttributeValueMemberS)
		sk, _ := start[store.SK].(*types.AttributeValueMemberS)
		if pk.Value != userPK(userID) || !strings.HasPrefix(sk.Value, notePrefix) {
			return nil, "", ErrInvalidCursor
		}
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :note)"),
		ExpressionAttributeNames:  map[string]string{"#pk": store.PK, "#sk": store.SK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": store.S(userPK(userID)), ":note": store.S(notePrefix)},
		ScanIndexForward:          aws.Bool(false),
		ExclusiveStartKey:         start,
		Limit:                     aws.Int32(limit),
	})
	if err != nil {
		return nil, "", fmt.Errorf("query notifications of user %s: %w", userID, err)
	}
	notes := make([]Notification, 0, len(out.Items))
	for _, item := range out.Items {
		var it noteItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return nil, "", fmt.Errorf("unmarshal notification: %w", err)
		}
		notes = append(notes, it.Notification)
	}
	next, err := store.EncodeCursor(out.LastEvaluatedKey)
	if err != nil {
		return nil, "", err
	}
	return notes, next, nil
}

// SetPreference records the user's marketingEmails as of the user's
// version, unless a version as new or newer is recorded: user events may
// arrive in any order, and the newest wins. One conditional put.
func (s *Store) SetPreference(ctx context.Context, userID string, p Preference) error {
	item, err := attributevalue.MarshalMap(prefsItem{PK: userPK(userID), SK: skPrefs, Preference: p})
	if err != nil {
		return fmt.Errorf("marshal preference: %w", err)
	}
	err = store.ConditionalPut(ctx, s.db, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      item,
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #version < :version"),
		ExpressionAttributeNames:  map[string]string{"#pk": store.PK, "#version": "userVersion"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":version": store.N(p.Version)},
	})
	if store.IsConditionFailed(err) {
		return nil // a newer (or this very) version is recorded already
	}
	return err
}

// Preferences returns the recorded preference of each of userIDs that has
// one.
func (s *Store) Preferences(ctx context.Context, userIDs []string) (map[string]Preference, error) {
	prefs := make(map[string]Preference, len(userIDs))
	for chunk := range slices.Chunk(userIDs, 100) {
		keys := make([]store.Item, len(chunk))
		for i, id := range chunk {
			keys[i] = store.Key(userPK(id), skPrefs)
		}
		for round := 0; len(keys) > 0; round++ {
			if round == maxBatchRounds {
				return nil, fmt.Errorf("batch get preferences: %d keys still unprocessed", len(keys))
			}
			if round > 0 {
				if err := sleep(ctx, time.Duration(25<<round)*time.Millisecond); err != nil {
					return nil, err
				}
			}
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}},
			})
			if err != nil {
				return nil, fmt.Errorf("batch get preferences: %w", err)
			}
			for _, item := range out.Responses[s.table] {
				var it prefsItem
				if err := attributevalue.UnmarshalMap(item, &it); err != nil {
					return nil, fmt.Errorf("unmarshal preference: %w", err)
				}
				prefs[strings.TrimPrefix(it.PK, "USER#")] = it.Preference
			}
			keys = out.UnprocessedKeys[s.table].Keys
		}
	}
	return prefs, nil
}

// OpenOrder records the order as PENDING with its products, unless the
// order was seen before: opened already (a redelivery) or closed already
// (its order.confirmed or order.cancelled came first). One transaction:
// the order item, put only if absent, and a pending entry per product.
func (s *Store) OpenOrder(ctx context.Context, orderID, userID string, productIDs []string) error {
	products := slices.Clone(productIDs)
	slices.Sort(products)
	products = slices.Compact(products)
	order, err := attributevalue.MarshalMap(orderItem{PK: orderPK(orderID), SK: skOrder, UserID: userID, Products: products, Status: statusOpen})
	if err != nil {
		return fmt.Errorf("marshal order: %w", err)
	}
	ops := []types.TransactWriteItem{{Put: &types.Put{
		TableName: aws.String(s.table), Item: order,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": store.PK},
	}}}
	for _, p := range products {
		item, err := attributevalue.MarshalMap(pendingItem{PK: productPK(p), SK: pendingPrefix + orderID, UserID: userID, OrderID: orderID})
		if err != nil {
			return fmt.Errorf("marshal pending order: %w", err)
		}
		ops = append(ops, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: item}})
	}
	err = store.TransactWrite(ctx, s.db, &dynamodb.TransactWriteItemsInput{TransactItems: ops})
	if failed, ok := store.TxConditionFailed(err); ok && slices.Equal(failed, []int{0}) {
		return nil // seen before: opened, or closed already
	}
	if err != nil {
		return fmt.Errorf("open order %s: %w", orderID, err)
	}
	return nil
}

// maxCloseAttempts bounds how often CloseOrder reads the order again after
// losing a race with its OpenOrder.
const maxCloseAttempts = 5

// CloseOrder records that the order left PENDING (confirmed or cancelled):
// its pending entries go, and its item stays CLOSED for closedOrderTTL so
// that a late order.created cannot open it again. Idempotent.
func (s *Store) CloseOrder(ctx context.Context, orderID, userID string) error {
	expiry := s.now().Add(closedOrderTTL).Unix()
	for attempt := 1; ; attempt++ {
		item, err := store.Get(ctx, s.db, s.table, store.Key(orderPK(orderID), skOrder))
		var order orderItem
		switch {
		case errors.Is(err, store.ErrNotFound):
			err = s.closeUnseen(ctx, orderID, userID, expiry)
		case err != nil:
			return err
		default:
			if err := attributevalue.UnmarshalMap(item, &order); err != nil {
				return fmt.Errorf("unmarshal order %s: %w", orderID, err)
			}
			if order.Status == statusClosed {
				return nil
			}
			err = s.closeOpen(ctx, orderID, order.Products, expiry)
		}
		if !errors.Is(err, errRaced) {
			return err
		}
		if attempt == maxCloseAttempts {
			return fmt.Errorf("close order %s: %w", orderID, err)
		}
	}
}

// errRaced is a close that lost to a concurrent open (or close).
var errRaced = errors.New("notifications: the order changed meanwhile")

// closeUnseen closes an order no order.created was seen for: a CLOSED item
// without products, put only if the order is still absent.
func (s *Store) closeUnseen(ctx context.Context, orderID, userID string, expiry int64) error {
	item, err := attributevalue.MarshalMap(orderItem{PK: orderPK(orderID), SK: skOrder, UserID: userID, Status: statusClosed, TTL: expiry})
	if err != nil {
		return fmt.Errorf("marshal order: %w", err)
	}
	err = store.PutNew(ctx, s.db, s.table, item)
	if errors.Is(err, store.ErrAlreadyExists) {
		return errRaced
	}
	return err
}

// closeOpen closes an OPEN order: the order item turns CLOSED (only if
// still OPEN) and its pending entries go, in one transaction.
func (s *Store) closeOpen(ctx context.Context, orderID string, products []string, expiry int64) error {
	ops := []types.TransactWriteItem{{Update: &types.Update{
		TableName:                 aws.String(s.table),
		Key:                       store.Key(orderPK(orderID), skOrder),
		UpdateExpression:          aws.String("SET #status = :closed, #ttl = :ttl"),
		ConditionExpression:       aws.String("#status = :open"),
		ExpressionAttributeNames:  map[string]string{"#status": "status", "#ttl": "ttl"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":closed": store.S(statusClosed), ":open": store.S(statusOpen), ":ttl": store.N(expiry)},
	}}}
	for _, p := range products {
		ops = append(ops, types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.table), Key: store.Key(productPK(p), pendingPrefix+orderID)}})
	}
	err := store.TransactWrite(ctx, s.db, &dynamodb.TransactWriteItemsInput{TransactItems: ops})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		return fmt.Errorf("%w: %w", errRaced, err)
	}
	if err != nil {
		return fmt.Errorf("close order %s: %w", orderID, err)
	}
	return nil
}

// PendingBuyers returns the users with a PENDING order of the product,
// each once, sorted.
func (s *Store) PendingBuyers(ctx context.Context, productID string) ([]string, error) {
	var users []string
	var start store.Item
	for {
		out, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.table),
			KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :pending)"),
			ProjectionExpression:      aws.String("#user"),
			ExpressionAttributeNames:  map[string]string{"#pk": store.PK, "#sk": store.SK, "#user": "userId"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": store.S(productPK(productID)), ":pending": store.S(pendingPrefix)},
			ConsistentRead:            aws.Bool(true),
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, fmt.Errorf("query pending orders of product %s: %w", productID, err)
		}
		for _, item := range out.Items {
			if u, ok := item["userId"].(*types.AttributeValueMemberS); ok {
				users = append(users, u.Value)
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		start = out.LastEvaluatedKey
	}
	slices.Sort(users)
	return slices.Compact(users), nil
}
