package consumer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/shop-serverless/shop/shared/log"
	"github.com/shop-serverless/shop/shared/store"
)

// Claims deduplicates deliveries on the event's identity (source and id, as
// CloudEvents defines it) for one consumer, following Powertools for AWS
// Lambda's DynamoDB idempotency: a record in the consumer's own service
// table is claimed before the handler runs and completed after it, so a
// redelivered event has no second effect.
//
// Item: pk CONSUMED#<consumer>#<len(source)>:<source>#<id>, sk CONSUMED;
// status INPROGRESS (with the lock of the delivery holding it and when the
// lock expires) or COMPLETED; ttl when it may go.
type Claims struct {
	db       store.DB
	table    string
	consumer string
	// TTL is how long a completed claim is remembered: RecordTTL.
	TTL time.Duration
	// LockTimeout bounds an in-progress claim when the context has no
	// deadline (Knative); on Lambda the invocation's deadline is used.
	LockTimeout time.Duration
	Now         func() time.Time
}

// RecordTTL is how long a handled event is remembered. The bus archive keeps
// events 30 days, and a replay of any of them must change nothing, so a
// claim outlives the archive by a day; queues keep a message at most 4 days
// (a DLQ 14), well within it.
const RecordTTL = 31 * 24 * time.Hour

// ErrInProgress is a delivery of an event that another delivery is handling
// right now. It is transient: the message comes back later (SQS visibility,
// the broker's retry) and then finds the claim completed, or released.
var ErrInProgress = errors.New("consumer: the event is being handled by another delivery")

const (
	claimPrefix      = "CONSUMED#"
	claimSK          = "CONSUMED"
	statusInProgress = store.ClaimInProgress
	statusCompleted  = "COMPLETED"
)

// NewClaims returns the claims of consumer (its function name) in table,
// which must have pk/sk keys and a ttl attribute, as every service table
// does.
func NewClaims(db store.DB, table, consumer string) *Claims {
	return &Claims{db: store.MachineryDB(db), table: table, consumer: consumer, TTL: RecordTTL, LockTimeout: time.Minute, Now: time.Now}
}

type claimRecord struct {
	PK         string `dynamodbav:"pk"`
	SK         string `dynamodbav:"sk"`
	Status     string `dynamodbav:"status"`
	Type       string `dynamodbav:"eventType"`
	Lock       string `dynamodbav:"lock,omitempty"`
	LockExpiry int64  `dynamodbav:"lockExpiry"` // epoch milliseconds
	Expiry     int64  `dynamodbav:"ttl"`        // epoch seconds
}

// key names e for this consumer. The source is length-prefixed so that no
// source can end in something that reads as another source's id.
func (c *Claims) key(e event.Event) string {
	return claimPrefix + c.consumer + "#" + strconv.Itoa(len(e.Source())) + ":" + e.Source() + "#" + e.ID()
}

// Once runs handle on e unless this consumer handled e before: nil without
// running it when a completed claim exists, ErrInProgress when another
// delivery holds the claim, and otherwise handle's own result. A failed
// handler releases the claim, so the redelivery runs it again.
//
// The claim is one conditional PutItem, admitted when
//
//	no claim exists                                 (first delivery)
//	OR its ttl has passed                           (DynamoDB deletes expired
//	                                                 items hours late)
//	OR it is in progress and its lock has expired   (the delivery holding it
//	                                                 died mid-flight)
//
// Timeline of the race it settles: SQS delivers the message twice (it is
// at-least-once), to invocations A and B. A's Put lands first and writes
// INPROGRESS; B's Put fails its condition and DynamoDB hands B the claim A
// wrote (ReturnValuesOnConditionCheckFailure), so B knows without a second
// read: INPROGRESS, and B reports its message failed; it comes back after a
// back-off, finds the claim COMPLETED and is deleted (or finds none, when A
// failed and released it, and runs). There is no read-then-write window. A
// Put applied whose response was lost is retried by the SDK and would fail
// against its own claim; store.ConditionalPut's write token recognises it.
//
// What the claim cannot promise: A dies after its handler's writes and
// before completing. Its lock expires with its invocation, and the next
// delivery runs the handler again. Handlers therefore also write
// idempotently (a key or condition derived from the event), and the claim
// is what keeps replays and duplicate deliveries cheap and quiet.
func (c *Claims) Once(ctx context.Context, e event.Event, handle Handler) error {
	key := c.key(e)
	lock := newLock()
	held, err := c.claim(ctx, key, e.Type(), lock)
	if err != nil {
		return err
	}
	if held != nil {
		if held.Status == statusCompleted {
			log.FromContext(ctx).InfoContext(ctx, "consumer: event handled before, skipped")
			return nil
		}
		return ErrInProgress
	}
	if err := handle(ctx, e); err != nil {
		// A context of its own: ctx may be what ran out.
		c.release(context.WithoutCancel(ctx), key, lock)
		return err
	}
	if err := c.complete(ctx, key, lock); err != nil {
		// The handler's work is done and must not be undone by a failure
		// here: the message is deleted, and the claim stays in progress
		// until its lock expires.
		log.FromContext(ctx).ErrorContext(ctx, "consumer: completing the claim failed", "error", err)
	}
	return nil
}

// claim takes the claim, or returns the claim that stands in the way.
func (c *Claims) claim(ctx context.Context, key, eventType, lock string) (*claimRecord, error) {
	now := c.Now()
	lockExpiry := now.Add(c.LockTimeout)
	if deadline, ok := ctx.Deadline(); ok {
		lockExpiry = deadline.Add(time.Second) // slack for clock skew between instances
	}
	item, err := attributevalue.MarshalMap(claimRecord{
		PK: key, SK: claimSK, Status: statusInProgress, Type: eventType, Lock: lock,
		LockExpiry: lockExpiry.UnixMilli(), Expiry: now.Add(c.TTL).Unix(),
	})
	if err != nil {
		return nil, fmt.Errorf("consumer: marshal claim: %w", err)
	}
	old, err := store.PutClaim(ctx, c.db, c.table, item, now)
	if err != nil {
		return nil, fmt.Errorf("consumer: claim event: %w", err)
	}
	if old == nil {
		return nil, nil
	}
	var held claimRecord
	if err := attributevalue.UnmarshalMap(old, &held); err != nil {
		return nil, fmt.Errorf("consumer: unmarshal claim: %w", err)
	}
	return &held, nil
}

// complete marks the claim handled, while it is still ours: a claim whose
// lock expired and that another delivery took over is that delivery's.
func (c *Claims) complete(ctx context.Context, key, lock string) error {
	_, err := store.ConditionalUpdate(ctx, c.db, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(c.table),
		Key:                       store.Key(key, claimSK),
		UpdateExpression:          aws.String("SET #status = :completed REMOVE #lock"),
		ConditionExpression:       aws.String("#lock = :lock"),
		ExpressionAttributeNames:  map[string]string{"#status": "status", "#lock": "lock"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":completed": store.S(statusCompleted), ":lock": store.S(lock)},
	})
	if store.IsConditionFailed(err) {
		return errors.New("the claim was taken over by a later delivery")
	}
	return err
}

// release gives the claim up while it is still ours (a retry that finds it
// gone is done: store.ConditionalDelete).
func (c *Claims) release(ctx context.Context, key, lock string) {
	err := store.ConditionalDelete(ctx, c.db, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(c.table),
		Key:                       store.Key(key, claimSK),
		ConditionExpression:       aws.String("#lock = :lock"),
		ExpressionAttributeNames:  map[string]string{"#lock": "lock"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":lock": store.S(lock)},
	})
	if err != nil && !store.IsConditionFailed(err) {
		log.FromContext(ctx).ErrorContext(ctx, "consumer: releasing the claim failed; it holds until its lock expires", "error", err)
	}
}

func newLock() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
