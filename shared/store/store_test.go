package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/store"
	"github.com/shop-serverless/shop/shared/store/storetest"
)

func TestConditionalWrites(t *testing.T) {
	db, table := storetest.Table(t, "inventory")
	ctx := context.Background()
	key := store.Key("THING#1", "THING")
	item := store.Key("THING#1", "THING")
	item[store.VersionAttr] = store.N(1)
	item["count"] = store.N(5)

	if _, err := store.Get(ctx, db, table, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get absent: err = %v, want ErrNotFound", err)
	}
	if err := store.PutNew(ctx, db, table, item); err != nil {
		t.Fatalf("PutNew: %v", err)
	}
	if err := store.PutNew(ctx, db, table, item); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("PutNew twice: err = %v, want ErrAlreadyExists", err)
	}

	set := expression.Set(expression.Name("count"), expression.Value(7))
	got, err := store.UpdateVersioned(ctx, db, table, key, 1, set, nil)
	if err != nil {
		t.Fatalf("UpdateVersioned: %v", err)
	}
	if v := got[store.VersionAttr].(*types.AttributeValueMemberN).Value; v != "2" {
		t.Errorf("version after update = %s, want 2", v)
	}
	if _, err := store.UpdateVersioned(ctx, db, table, key, 1, set, nil); !errors.Is(err, store.ErrVersionConflict) {
		t.Errorf("stale version: err = %v, want ErrVersionConflict", err)
	}
	if _, err := store.UpdateVersioned(ctx, db, table, store.Key("THING#2", "THING"), 1, set, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("absent item: err = %v, want ErrNotFound", err)
	}
	extra := expression.Name("count").GreaterThan(expression.Value(100))
	if _, err := store.UpdateVersioned(ctx, db, table, key, 2, set, &extra); !errors.Is(err, store.ErrConditionFailed) {
		t.Errorf("extra condition false: err = %v, want ErrConditionFailed", err)
	}

	// UpdateExisting: a guarded decrement that must not go below zero.
	dec := expression.Add(expression.Name("count"), expression.Value(-7))
	got, err = store.UpdateExisting(ctx, db, table, key, dec, expression.Name("count").GreaterThanEqual(expression.Value(7)))
	if err != nil {
		t.Fatalf("UpdateExisting: %v", err)
	}
	if c := got["count"].(*types.AttributeValueMemberN).Value; c != "0" {
		t.Errorf("count = %s, want 0", c)
	}
	if v := got[store.VersionAttr].(*types.AttributeValueMemberN).Value; v != "3" {
		t.Errorf("version = %s, want 3", v)
	}
	if _, err := store.UpdateExisting(ctx, db, table, key, dec, expression.Name("count").GreaterThanEqual(expression.Value(7))); !errors.Is(err, store.ErrConditionFailed) {
		t.Errorf("decrement below zero: err = %v, want ErrConditionFailed", err)
	}
	if _, err := store.UpdateExisting(ctx, db, table, store.Key("NOPE", "NOPE"), dec, expression.Name("count").GreaterThanEqual(expression.Value(0))); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("absent: err = %v, want ErrNotFound", err)
	}
}

func TestMapTxError(t *testing.T) {
	db, table := storetest.Table(t, "users")
	ctx := context.Background()
	errFirst, errSecond := errors.New("first taken"), errors.New("second taken")
	put := func(pk string) types.TransactWriteItem {
		return types.TransactWriteItem{Put: &types.Put{
			TableName:                aws.String(table),
			Item:                     store.Key(pk, "X"),
			ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{"#pk": store.PK},
		}}
	}
	tx := func(a, b string) error {
		_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{put(a), put(b)}})
		return store.MapTxError(err, map[int]error{0: errFirst, 1: errSecond})
	}
	if err := tx("A", "B"); err != nil {
		t.Fatalf("first transaction: %v", err)
	}
	if err := tx("C", "B"); !errors.Is(err, errSecond) {
		t.Errorf("second item taken: err = %v, want %v", err, errSecond)
	}
	if err := tx("A", "D"); !errors.Is(err, errFirst) {
		t.Errorf("first item taken: err = %v, want %v", err, errFirst)
	}
	// Nothing of a cancelled transaction is written.
	for _, pk := range []string{"C", "D"} {
		if _, err := store.Get(ctx, db, table, store.Key(pk, "X")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("item %s after cancelled transaction: err = %v, want ErrNotFound", pk, err)
		}
	}
}
