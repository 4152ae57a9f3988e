package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// VersionAttr is the optimistic-concurrency counter every versioned item
// carries; it starts at 1 and each write adds one.
const VersionAttr = "version"

// UpdateVersioned applies update to the item at key if, and only if, its
// version is still expected, bumps the version, and returns the new item.
// One round trip: when the condition fails DynamoDB returns the current item,
// which tells ErrNotFound (no item) from ErrVersionConflict (another writer
// got there first). extra, if set, is ANDed into the condition; when it
// fails on an item at the expected version the error is ErrConditionFailed.
// Safe to retry: a retry that meets its own first attempt returns the item
// that attempt wrote (see ConditionalUpdate).
func UpdateVersioned(ctx context.Context, db DB, table string, key Item, expected int64, update expression.UpdateBuilder, extra *expression.ConditionBuilder) (Item, error) {
	cond := expression.Name(VersionAttr).Equal(expression.Value(expected))
	if extra != nil {
		cond = cond.And(*extra)
	}
	update = update.Set(expression.Name(VersionAttr), expression.Value(expected+1))
	return updateWithCondition(ctx, db, table, key, update, cond, func(old Item) error {
		if len(old) == 0 {
			return ErrNotFound
		}
		if v, ok := old[VersionAttr].(*types.AttributeValueMemberN); !ok || v.Value != fmt.Sprint(expected) {
			return ErrVersionConflict
		}
		return ErrConditionFailed
	})
}

// UpdateExisting applies update (and bumps the version) to an existing item
// whatever its version, provided cond holds. ErrNotFound when there is no
// item, ErrConditionFailed when cond is false. Safe to retry: a retry of a
// write already applied is not applied again, even when cond still holds
// (an increment stays one increment; see ConditionalUpdate).
func UpdateExisting(ctx context.Context, db DB, table string, key Item, update expression.UpdateBuilder, cond expression.ConditionBuilder) (Item, error) {
	cond = expression.AttributeExists(expression.Name(PK)).And(cond)
	update = update.Add(expression.Name(VersionAttr), expression.Value(1))
	return updateWithCondition(ctx, db, table, key, update, cond, func(old Item) error {
		if len(old) == 0 {
			return ErrNotFound
		}
		return ErrConditionFailed
	})
}

func updateWithCondition(ctx context.Context, db DB, table string, key Item, update expression.UpdateBuilder, cond expression.ConditionBuilder, classify func(old Item) error) (Item, error) {
	expr, err := expression.NewBuilder().WithUpdate(update).WithCondition(cond).Build()
	if err != nil {
		return nil, fmt.Errorf("build update for %s: %w", table, err)
	}
	item, err := ConditionalUpdate(ctx, db, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(table),
		Key:                       key,
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ReturnValues:              types.ReturnValueAllNew,
	})
	if old, failed := ConditionFailedItem(err); failed {
		return nil, classify(old)
	}
	return item, err
}
