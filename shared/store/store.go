// Package store holds the DynamoDB helpers every service's store is built
// from: a cheaply configured client, keys, single-round-trip conditional
// writes whose failures become sentinel errors, transaction cancellation
// reasons mapped to domain errors, and opaque pagination cursors.
//
//	db, err := store.NewDynamoDB(ctx)
//	err = store.PutNew(ctx, db, table, item) // store.ErrAlreadyExists if the key is taken
//
// Conditional writes ask DynamoDB to return the old item when the condition
// fails (ReturnValuesOnConditionCheckFailure), so "absent" and "changed" are
// told apart without a second read.
//
// Every conditional write is safe to retry, which the SDK does whenever a
// response is lost, applied or not: transactions carry a ClientRequestToken
// per call (TransactWrite), single-item writes a write token per call in the
// item (WriteTokenAttr), by which a retry that fails its condition against
// its own first attempt is told from a real conflict (ConditionalPut,
// ConditionalUpdate, ConditionalDelete; retrysafe.go draws the timeline).
// Code outside this package makes its conditional writes through these too.
package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/awsconfig"
)

// Key attribute names shared by every service table (single-table design:
// see each service.yaml).
const (
	PK = "pk"
	SK = "sk"
)

// Sentinel errors; services wrap or translate them into domain errors.
var (
	ErrNotFound        = errors.New("store: item not found")
	ErrAlreadyExists   = errors.New("store: item already exists")
	ErrVersionConflict = errors.New("store: version conflict")
	ErrConditionFailed = errors.New("store: condition failed")
)

// DB is the part of the DynamoDB API the services use; *dynamodb.Client
// satisfies it.
type DB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Item is a DynamoDB item.
type Item = map[string]types.AttributeValue

// NewDynamoDB returns a client configured by awsconfig (AWS_ENDPOINT_URL is
// honoured, so the same binary talks to AWS, LocalStack or MiniStack).
func NewDynamoDB(ctx context.Context) (*dynamodb.Client, error) {
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return nil, err
	}
	return dynamodb.NewFromConfig(cfg), nil
}

// Key builds a pk/sk key.
func Key(pk, sk string) Item {
	return Item{PK: &types.AttributeValueMemberS{Value: pk}, SK: &types.AttributeValueMemberS{Value: sk}}
}

// S and N build attribute values.
func S(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// N builds a number attribute value.
func N(v int64) types.AttributeValue { return &types.AttributeValueMemberN{Value: fmt.Sprint(v)} }

// PutNew writes item only if no item has its key yet; safe to retry (a
// retry after a lost response is not "already exists": see ConditionalPut).
func PutNew(ctx context.Context, db DB, table string, item Item) error {
	err := ConditionalPut(ctx, db, &dynamodb.PutItemInput{
		TableName:           aws.String(table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{
			"#pk": PK,
		},
	})
	if IsConditionFailed(err) {
		return ErrAlreadyExists
	}
	return err
}

// Get reads one item with a strongly consistent read; ErrNotFound when absent.
func Get(ctx context.Context, db DB, table string, key Item) (Item, error) {
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            key,
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", table, err)
	}
	if len(out.Item) == 0 {
		return nil, ErrNotFound
	}
	return out.Item, nil
}

// IsConditionFailed reports a failed condition on a single-item write.
func IsConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// ConditionFailedItem returns the item DynamoDB sent back with a failed
// condition (requested with ReturnValuesOnConditionCheckFailure ALL_OLD).
// ok is true when the condition failed; item is empty when there was no item.
func ConditionFailedItem(err error) (item Item, ok bool) {
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return nil, false
	}
	return ccf.Item, true
}

// TxConditionFailed reports, for a cancelled TransactWriteItems, which
// operation indexes failed their condition. ok is false for any other error
// (including a cancellation for other reasons, such as a conflicting
// concurrent transaction, which callers should treat as transient).
func TxConditionFailed(err error) (failed []int, ok bool) {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil, false
	}
	for i, r := range tce.CancellationReasons {
		if aws.ToString(r.Code) == "ConditionalCheckFailed" {
			failed = append(failed, i)
		}
	}
	return failed, len(failed) > 0
}

// MapTxError turns a cancelled transaction into the domain error registered
// for the first operation whose condition failed (byIndex[i] for operation i).
// Any other error is wrapped and returned.
func MapTxError(err error, byIndex map[int]error) error {
	if err == nil {
		return nil
	}
	if failed, ok := TxConditionFailed(err); ok {
		for _, i := range failed {
			if derr, found := byIndex[i]; found {
				return derr
			}
		}
		return fmt.Errorf("%w: transaction operation %v", ErrConditionFailed, failed)
	}
	return fmt.Errorf("transact write: %w", err)
}

// PutNewAll writes items in one transaction, each only if its key is still
// free: all are written or none. The usual use is an entity plus the guard
// items that make one of its attributes unique (an email, a SKU), so a value
// can never end up with two owners. taken[i], when set, is returned if the
// key of items[i] is already in use. Safe to retry: see TransactWrite.
func PutNewAll(ctx context.Context, db DB, table string, items []Item, taken map[int]error) error {
	notExists := aws.String("attribute_not_exists(#pk)")
	names := map[string]string{"#pk": PK}
	ops := make([]types.TransactWriteItem, len(items))
	for i, item := range items {
		ops[i] = types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(table), Item: item, ConditionExpression: notExists, ExpressionAttributeNames: names,
		}}
	}
	return MapTxError(TransactWrite(ctx, db, &dynamodb.TransactWriteItemsInput{TransactItems: ops}), taken)
}
