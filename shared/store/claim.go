package store

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attributes and status of a claim record: an item that says one caller is
// doing something (shared/idempotency's key, a consumer's claim on an event)
// until the lock it holds expires.
const (
	AttrClaimStatus     = "status"
	AttrClaimLockExpiry = "lockExpiry" // epoch milliseconds
	AttrClaimTTL        = "ttl"        // epoch seconds
	ClaimInProgress     = "INPROGRESS"
)

// PutClaim writes item, a claim record with status ClaimInProgress, with a
// single conditional PutItem, admitted when
//
//	no record has its key                              (the first caller)
//	OR the record's ttl has passed                     (expired; DynamoDB's TTL
//	                                                    deletion lags by hours)
//	OR it is in progress and its lock has expired      (its holder died
//	                                                    mid-flight)
//
// It returns nil when the claim is taken, else the record in the way.
//
// Timeline of the race it settles: A and B claim the same key. A's Put
// lands first and writes INPROGRESS; B's Put fails its condition, and
// DynamoDB hands B the record A wrote (ReturnValuesOnConditionCheckFailure),
// so B knows who holds it without a second read. There is no
// read-then-write window. A's Put may also be applied with its answer lost;
// the SDK then sends it again, and the retry fails its condition against
// A's own record: ConditionalPut's write token tells that record apart from
// B's, so A holds the claim rather than finding itself in the way.
func PutClaim(ctx context.Context, db DB, table string, item Item, now time.Time) (held Item, err error) {
	return putClaim(ctx, db, table, item, now, false)
}

// PutNewClaim is PutClaim admitted only when no record has the key: nil
// means nobody has claimed the key before (within its record's life),
// else the record in the way is returned, whether or not PutClaim would
// take it over. A caller that must tell a first claim from a takeover (the
// takeover's earlier holder may have done part of the work) calls this
// first, and PutClaim only for a record that may be taken over.
func PutNewClaim(ctx context.Context, db DB, table string, item Item, now time.Time) (held Item, err error) {
	return putClaim(ctx, db, table, item, now, true)
}

// Claimable reports whether PutClaim at now would take over the claim
// record rec: its ttl has passed, or it is in progress and its lock has
// expired.
func Claimable(rec Item, now time.Time) bool {
	number := func(name string) (int64, bool) {
		n, ok := rec[name].(*types.AttributeValueMemberN)
		if !ok {
			return 0, false
		}
		v, err := strconv.ParseInt(n.Value, 10, 64)
		return v, err == nil
	}
	if ttl, ok := number(AttrClaimTTL); ok && ttl < now.Unix() {
		return true
	}
	status, _ := rec[AttrClaimStatus].(*types.AttributeValueMemberS)
	lock, ok := number(AttrClaimLockExpiry)
	return status != nil && status.Value == ClaimInProgress && ok && lock < now.UnixMilli()
}

func putClaim(ctx context.Context, db DB, table string, item Item, now time.Time, onlyNew bool) (held Item, err error) {
	condition := "attribute_not_exists(#pk) OR #ttl < :now OR (#status = :inprogress AND #lockExpiry < :nowms)"
	names := map[string]string{"#pk": PK, "#ttl": AttrClaimTTL, "#status": AttrClaimStatus, "#lockExpiry": AttrClaimLockExpiry}
	values := map[string]types.AttributeValue{":now": N(now.Unix()), ":nowms": N(now.UnixMilli()), ":inprogress": S(ClaimInProgress)}
	if onlyNew {
		condition, names, values = "attribute_not_exists(#pk)", map[string]string{"#pk": PK}, nil
	}
	err = ConditionalPut(ctx, db, &dynamodb.PutItemInput{
		TableName:                 aws.String(table),
		Item:                      item,
		ConditionExpression:       aws.String(condition),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if old, failed := ConditionFailedItem(err); failed {
		return old, nil
	}
	return nil, err
}
