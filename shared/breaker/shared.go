package breaker

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/store"
)

// Shared keeps breaker state in the platform service's table, one item per
// dependency:
//
//	pk         BREAKER#<name>
//	sk         STATE
//	state      "open" | "closed"
//	openUntil  epoch ms: no calls before this (absent when closed)
//	probeUntil epoch ms: the probe lease, held by probeOwner until then
//	probeOwner the lease holder's random id
//	updatedAt  epoch ms of the last write
//	ttl        epoch seconds: a day after the last write, so that state of a
//	           dependency nobody calls any more disappears (absent = closed)
//	writeToken, priorWriteToken
//	           the last two writes' tokens, which make them safe to retry
//	           (store.ConditionalUpdate)
//
// One Shared serves every Breaker of a function.
type Shared struct {
	db    store.DB
	table string
}

// NewShared returns shared state kept in table (the platform table:
// naming.Table(prefix, naming.PlatformService)).
func NewShared(db store.DB, table string) *Shared {
	return &Shared{db: store.MachineryDB(db), table: table} // bookkeeping (store.Machinery)
}

const (
	sortKey     = "STATE"
	stateOpen   = "open"
	stateClosed = "closed"
	itemTTL     = 24 * time.Hour
)

func itemKey(name string) store.Item { return store.Key(naming.BreakerKeyPrefix+name, sortKey) }

// names are the expression attribute names every write uses; DynamoDB
// rejects unused ones, so each write picks the names it needs.
var names = map[string]string{
	"#state": "state", "#openUntil": "openUntil", "#probeUntil": "probeUntil",
	"#probeOwner": "probeOwner", "#updatedAt": "updatedAt", "#ttl": "ttl",
}

func pick(keys ...string) map[string]string {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		m[k] = names[k]
	}
	return m
}

func ms(t time.Time) types.AttributeValue { return store.N(t.UnixMilli()) }

func ttlValue(now time.Time) types.AttributeValue { return store.N(now.Add(itemTTL).Unix()) }

func (s *Shared) load(ctx context.Context, name string) (sharedState, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table),
		Key:       itemKey(name),
		// Eventually consistent on purpose: see Breaker.sharedView.
		ConsistentRead: aws.Bool(false),
	})
	if err != nil {
		return sharedState{}, fmt.Errorf("get %s: %w", s.table, err)
	}
	return decodeState(out.Item)
}

// publishOpen sets the breaker open until openUntil, unless it is already
// open for longer. Two instances tripping together both write; whichever
// lands second only succeeds if it extends the window, so no instance can
// shorten another's verdict. Opening also drops any probe lease: the probe
// started before this fresh failure and its result is stale, which closeProbe
// enforces by requiring the lease.
//
// When the condition fails the item is already open for at least as long,
// which is what this write wanted: the current state is returned.
func (s *Shared) publishOpen(ctx context.Context, name string, openUntil, now time.Time) (sharedState, error) {
	st, _, err := s.update(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      itemKey(name),
		UpdateExpression:         aws.String("SET #state = :open, #openUntil = :openUntil, #updatedAt = :now, #ttl = :ttl REMOVE #probeUntil, #probeOwner"),
		ConditionExpression:      aws.String("attribute_not_exists(#openUntil) OR #openUntil < :openUntil"),
		ExpressionAttributeNames: pick("#state", "#openUntil", "#updatedAt", "#ttl", "#probeUntil", "#probeOwner"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":open":      store.S(stateOpen),
			":openUntil": ms(openUntil),
			":now":       ms(now),
			":ttl":       ttlValue(openUntil),
		},
	})
	return st, err
}

// acquireProbe takes the probe lease with one conditional write. The
// condition admits it only when
//
//	the breaker is open                           (#state = :open)
//	AND its open window is over                   (#openUntil <= :now)
//	AND no unexpired lease exists                 (no probeUntil, or probeUntil <= :now:
//	                                               the last prober died or gave up)
//
// Timeline of the race it settles: instances A and B both see the window end
// and send this write at once. DynamoDB applies writes to one item one at a
// time; A's lands first and sets probeUntil in the future, so B's condition
// is false. B gets the item as A left it (ReturnValuesOnConditionCheckFailure)
// and fails fast until then, without a second read. No read-then-write
// window exists, so exactly one instance probes per lease. A prober that dies
// loses the lease when probeUntil passes, and the next caller takes it over.
func (s *Shared) acquireProbe(ctx context.Context, name, owner string, leaseUntil, now time.Time) (sharedState, bool, error) {
	return s.update(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      itemKey(name),
		UpdateExpression:         aws.String("SET #probeUntil = :probeUntil, #probeOwner = :owner, #updatedAt = :now"),
		ConditionExpression:      aws.String("#state = :open AND #openUntil <= :now AND (attribute_not_exists(#probeUntil) OR #probeUntil <= :now)"),
		ExpressionAttributeNames: pick("#state", "#openUntil", "#probeUntil", "#probeOwner", "#updatedAt"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":open":       store.S(stateOpen),
			":now":        ms(now),
			":probeUntil": ms(leaseUntil),
			":owner":      store.S(owner),
		},
	})
}

// closeProbe closes the breaker after a successful probe, but only while
// the prober still holds its lease: if a fresh failure re-opened the breaker
// meanwhile (dropping the lease), that newer verdict stands.
func (s *Shared) closeProbe(ctx context.Context, name, owner string, now time.Time) (sharedState, error) {
	return s.ownedUpdate(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      itemKey(name),
		UpdateExpression:         aws.String("SET #state = :closed, #updatedAt = :now, #ttl = :ttl REMOVE #openUntil, #probeUntil, #probeOwner"),
		ConditionExpression:      aws.String("#probeOwner = :owner"),
		ExpressionAttributeNames: pick("#state", "#updatedAt", "#ttl", "#openUntil", "#probeUntil", "#probeOwner"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":closed": store.S(stateClosed),
			":now":    ms(now),
			":ttl":    ttlValue(now),
			":owner":  store.S(owner),
		},
	})
}

// releaseProbe gives the lease back without a verdict (the probe call was
// cancelled), so that the next caller anywhere may probe at once.
func (s *Shared) releaseProbe(ctx context.Context, name, owner string, now time.Time) (sharedState, error) {
	return s.ownedUpdate(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      itemKey(name),
		UpdateExpression:         aws.String("SET #updatedAt = :now REMOVE #probeUntil, #probeOwner"),
		ConditionExpression:      aws.String("#probeOwner = :owner"),
		ExpressionAttributeNames: pick("#updatedAt", "#probeUntil", "#probeOwner"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now":   ms(now),
			":owner": store.S(owner),
		},
	})
}

// ownedUpdate is an update that needs the probe lease. Having lost it is not
// an error: the state whoever took it over wrote is returned instead.
func (s *Shared) ownedUpdate(ctx context.Context, in *dynamodb.UpdateItemInput) (sharedState, error) {
	st, _, err := s.update(ctx, in)
	return st, err
}

// update applies in. It returns the item as the write left it, or, when the
// condition failed (applied false), as it was: DynamoDB sends it back
// (ReturnValuesOnConditionCheckFailure), so a lost race costs no second read.
// The write is safe to retry (store.ConditionalUpdate): when the SDK resends
// it after a lost response, its own first attempt is recognised as applied
// rather than as a race lost, which for acquireProbe would leave a lease
// that nobody uses blocking the fleet until it expired.
func (s *Shared) update(ctx context.Context, in *dynamodb.UpdateItemInput) (st sharedState, applied bool, err error) {
	in.ReturnValues = types.ReturnValueAllNew
	item, err := store.ConditionalUpdate(ctx, s.db, in)
	if old, failed := store.ConditionFailedItem(err); failed {
		st, err := decodeState(old)
		return st, false, err
	}
	if err != nil {
		return sharedState{}, false, err
	}
	st, err = decodeState(item)
	return st, err == nil, err
}

// decodeState reads an item; an absent item is a closed breaker.
func decodeState(item store.Item) (sharedState, error) {
	var st sharedState
	if len(item) == 0 {
		return st, nil
	}
	if v, ok := item["state"].(*types.AttributeValueMemberS); ok {
		st.open = v.Value == stateOpen
	}
	var err error
	if st.openUntil, err = msAttr(item, "openUntil"); err != nil {
		return sharedState{}, err
	}
	if st.probeUntil, err = msAttr(item, "probeUntil"); err != nil {
		return sharedState{}, err
	}
	if v, ok := item["probeOwner"].(*types.AttributeValueMemberS); ok {
		st.probeOwner = v.Value
	}
	return st, nil
}

func msAttr(item store.Item, name string) (time.Time, error) {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("breaker item: %s: %w", name, err)
	}
	return time.UnixMilli(n), nil
}
