package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// The platform's own bookkeeping shares a function's table and client with
// the function's domain: idempotency keys and records, consumer claims,
// breaker state, the fault switch. Test aids that break a function's
// DynamoDB calls (shared/faults' crash and throttle modes) must leave that
// bookkeeping alone, or they would break the machinery they test; a call
// made with a context from Machinery is the platform's, not the function's.
//
//	db = store.MachineryDB(db) // in the constructor of such a package

type machineryKey struct{}

// Machinery marks ctx's calls as the platform's bookkeeping.
func Machinery(ctx context.Context) context.Context {
	return context.WithValue(ctx, machineryKey{}, true)
}

// IsMachinery reports a context marked by Machinery.
func IsMachinery(ctx context.Context) bool {
	v, _ := ctx.Value(machineryKey{}).(bool)
	return v
}

// MachineryDB returns db with every call's context marked by Machinery.
func MachineryDB(db DB) DB {
	if db == nil {
		return nil
	}
	if _, ok := db.(machineryDB); ok {
		return db
	}
	return machineryDB{db}
}

type machineryDB struct{ db DB }

func (m machineryDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return m.db.GetItem(Machinery(ctx), in, opts...)
}

func (m machineryDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return m.db.BatchGetItem(Machinery(ctx), in, opts...)
}

func (m machineryDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return m.db.PutItem(Machinery(ctx), in, opts...)
}

func (m machineryDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return m.db.UpdateItem(Machinery(ctx), in, opts...)
}

func (m machineryDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return m.db.DeleteItem(Machinery(ctx), in, opts...)
}

func (m machineryDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return m.db.Query(Machinery(ctx), in, opts...)
}

func (m machineryDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return m.db.TransactWriteItems(Machinery(ctx), in, opts...)
}
