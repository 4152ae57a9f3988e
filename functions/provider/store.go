package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/store"
)

// Item layout in the provider table (see service.yaml):
//
//	CHARGE#<reference> / CHARGE   the charge for one reference, and its refund
//	KEY#<idempotencyKey> / ATTEMPTS  attempts seen per idempotency key (tok_flaky)
const (
	skCharge   = "CHARGE"
	skAttempts = "ATTEMPTS"
)

func chargeKey(reference string) store.Item { return store.Key("CHARGE#"+reference, skCharge) }

// ChargeRecord is a stored charge. Status is empty until the charge is
// decided (succeeded or declined); Attempts counts every charge request
// for the reference, replays included.
type ChargeRecord struct {
	Reference      string    `dynamodbav:"reference"`
	Status         string    `dynamodbav:"status,omitempty"`
	ChargeID       string    `dynamodbav:"chargeId,omitempty"`
	Amount         int64     `dynamodbav:"amount"`
	Currency       string    `dynamodbav:"currency"`
	Source         string    `dynamodbav:"source"`
	Attempts       int64     `dynamodbav:"attempts"`
	RefundID       string    `dynamodbav:"refundId,omitempty"`
	RefundedAmount int64     `dynamodbav:"refundedAmount"`
	Refunds        int64     `dynamodbav:"refunds"` // refunds made: 0 or 1
	CreatedAt      time.Time `dynamodbav:"createdAt"`
}

// Store keeps charges in the simulator's table.
type Store struct {
	db    store.DB
	table string
	now   func() time.Time
}

// NewStore returns a Store on table.
func NewStore(db store.DB, table string) *Store {
	return &Store{db: db, table: table, now: func() time.Time { return time.Now().UTC() }}
}

// countAttempt records a charge request for req.Reference and returns the
// record as it stands after it, creating it on the first request. Safe to
// retry: one request counts once (store.ConditionalUpdate).
func (s *Store) countAttempt(ctx context.Context, req ChargeRequest) (ChargeRecord, error) {
	item, err := store.ConditionalUpdate(ctx, s.db, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table),
		Key:       chargeKey(req.Reference),
		UpdateExpression: aws.String("SET #ref = :ref, #amount = if_not_exists(#amount, :amount), #cur = if_not_exists(#cur, :cur), " +
			"#src = if_not_exists(#src, :src), #created = if_not_exists(#created, :now), #refunded = if_not_exists(#refunded, :zero), " +
			"#refunds = if_not_exists(#refunds, :zero) ADD #attempts :one"),
		ExpressionAttributeNames: map[string]string{
			"#ref": "reference", "#amount": "amount", "#cur": "currency", "#src": "source", "#created": "createdAt",
			"#refunded": "refundedAmount", "#refunds": "refunds", "#attempts": "attempts",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":ref": store.S(req.Reference), ":amount": store.N(req.Amount), ":cur": store.S(req.Currency), ":src": store.S(req.Source),
			":now": store.S(s.now().Format(time.RFC3339Nano)), ":zero": store.N(0), ":one": store.N(1),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if err != nil {
		return ChargeRecord{}, err
	}
	return unmarshalCharge(item)
}

// countKeyAttempt counts the requests made with one idempotency key and
// returns how many there were, this one included.
func (s *Store) countKeyAttempt(ctx context.Context, key string) (int64, error) {
	item, err := store.ConditionalUpdate(ctx, s.db, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       store.Key("KEY#"+key, skAttempts),
		UpdateExpression:          aws.String("ADD #n :one"),
		ExpressionAttributeNames:  map[string]string{"#n": "attempts"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": store.N(1)},
		ReturnValues:              types.ReturnValueAllNew,
	})
	if err != nil {
		return 0, err
	}
	var it struct {
		Attempts int64 `dynamodbav:"attempts"`
	}
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return 0, fmt.Errorf("unmarshal attempts: %w", err)
	}
	return it.Attempts, nil
}

// decide sets the charge's outcome (status, and the charge id when it
// succeeded) unless it was decided already, and returns the record as it
// stands: the first decision wins, so a reference is never charged twice.
func (s *Store) decide(ctx context.Context, reference, status, chargeID string) (ChargeRecord, error) {
	names := map[string]string{"#status": "status"}
	values := map[string]types.AttributeValue{":status": store.S(status)}
	update := "SET #status = :status"
	if chargeID != "" {
		names["#chargeId"], values[":chargeId"] = "chargeId", store.S(chargeID)
		update += ", #chargeId = :chargeId"
	}
	item, err := store.ConditionalUpdate(ctx, s.db, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       chargeKey(reference),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("attribute_exists(pk) AND attribute_not_exists(#status)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	if old, failed := store.ConditionFailedItem(err); failed && len(old) > 0 {
		return unmarshalCharge(old) // decided already: that decision stands
	}
	if err != nil {
		return ChargeRecord{}, err
	}
	return unmarshalCharge(item)
}

// errNoCharge: nothing was charged under the reference.
var errNoCharge = errors.New("no charge")

// refund records the refund of amount for reference's charge, once: a
// charge refunded already keeps its first refund, which is returned.
// errNoCharge when the reference has no succeeded charge.
func (s *Store) refund(ctx context.Context, reference string, amount int64, refundID string) (ChargeRecord, error) {
	item, err := store.ConditionalUpdate(ctx, s.db, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 chargeKey(reference),
		UpdateExpression:    aws.String("SET #refundId = :id, #refunded = :amount ADD #refunds :one"),
		ConditionExpression: aws.String("#status = :succeeded AND attribute_not_exists(#refundId) AND #amount >= :amount"),
		ExpressionAttributeNames: map[string]string{
			"#refundId": "refundId", "#refunded": "refundedAmount", "#refunds": "refunds", "#status": "status", "#amount": "amount",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":id": store.S(refundID), ":amount": store.N(amount), ":one": store.N(1), ":succeeded": store.S(chargeSucceeded),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if old, failed := store.ConditionFailedItem(err); failed {
		if len(old) == 0 {
			return ChargeRecord{}, errNoCharge
		}
		rec, err := unmarshalCharge(old)
		if err != nil {
			return ChargeRecord{}, err
		}
		if rec.Status != chargeSucceeded {
			return ChargeRecord{}, errNoCharge
		}
		return rec, nil // refunded already, or the amount is above the charge: the caller tells which
	}
	if err != nil {
		return ChargeRecord{}, err
	}
	return unmarshalCharge(item)
}

// GetCharge reads the charge of reference; store.ErrNotFound without one.
func (s *Store) GetCharge(ctx context.Context, reference string) (ChargeRecord, error) {
	item, err := store.Get(ctx, s.db, s.table, chargeKey(reference))
	if err != nil {
		return ChargeRecord{}, err
	}
	return unmarshalCharge(item)
}

func unmarshalCharge(item store.Item) (ChargeRecord, error) {
	var rec ChargeRecord
	if err := attributevalue.UnmarshalMap(item, &rec); err != nil {
		return ChargeRecord{}, fmt.Errorf("unmarshal charge: %w", err)
	}
	return rec, nil
}
