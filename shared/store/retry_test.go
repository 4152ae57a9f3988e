package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shop-serverless/shop/shared/store"
	"github.com/shop-serverless/shop/shared/store/storetest"
)

// The tests in this file lose the response to a write after the emulator
// applied it (storetest.LossyTable), so that the SDK retries a write that
// already happened: the retry must come back as the success it was, the
// write must not happen twice, and a real conflict must still be one.

func number(t *testing.T, item store.Item, attr string) string {
	t.Helper()
	n, ok := item[attr].(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("attribute %s = %v, want a number", attr, item[attr])
	}
	return n.Value
}

func thing(count int64) store.Item {
	item := store.Key("THING#1", "THING")
	item[store.VersionAttr] = store.N(1)
	item["count"] = store.N(count)
	return item
}

var thingKey = store.Key("THING#1", "THING")

// show renders an item for a failure message.
func show(item store.Item) string {
	var m map[string]any
	if err := attributevalue.UnmarshalMap(item, &m); err != nil {
		return err.Error()
	}
	return fmt.Sprint(m)
}

func TestPutNewSurvivesALostResponse(t *testing.T) {
	db, table, loss := storetest.LossyTable(t, "inventory")
	ctx := context.Background()
	loss.Next("PutItem")
	if err := store.PutNew(ctx, db, table, thing(5)); err != nil {
		t.Fatalf("PutNew whose response was lost: %v, want success", err)
	}
	loss.WantLost(t, "PutItem", 1)
	if got, err := store.Get(ctx, db, table, thingKey); err != nil || number(t, got, "count") != "5" {
		t.Fatalf("item after PutNew = %s, %v", show(got), err)
	}
	// A second logical write of the same item is a new write: taken.
	if err := store.PutNew(ctx, db, table, thing(5)); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("PutNew of an existing key: err = %v, want ErrAlreadyExists", err)
	}
	// And so it is when its response is lost too.
	loss.Next("PutItem")
	if err := store.PutNew(ctx, db, table, thing(6)); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("PutNew of an existing key, response lost: err = %v, want ErrAlreadyExists", err)
	}
	loss.WantLost(t, "PutItem", 2)
}

func TestPutNewAllSurvivesALostResponse(t *testing.T) {
	db, table, loss := storetest.LossyTable(t, "inventory")
	ctx := context.Background()
	errTaken := errors.New("guard taken")
	guard := func(owner string) store.Item {
		g := store.Key("GUARD#1", "GUARD")
		g["owner"] = store.S(owner)
		return g
	}
	loss.Next("TransactWriteItems")
	if err := store.PutNewAll(ctx, db, table, []store.Item{thing(5), guard("a")}, map[int]error{1: errTaken}); err != nil {
		t.Fatalf("PutNewAll whose response was lost: %v, want success", err)
	}
	loss.WantLost(t, "TransactWriteItems", 1)
	// DynamoDB recognises the retry by its ClientRequestToken: the same in
	// both attempts.
	sent := loss.Sent("TransactWriteItems")
	if len(sent) != 2 {
		t.Fatalf("%d attempts sent, want 2", len(sent))
	}
	tokens := make([]string, len(sent))
	for i, body := range sent {
		var in struct{ ClientRequestToken string }
		if err := json.Unmarshal(body, &in); err != nil {
			t.Fatal(err)
		}
		tokens[i] = in.ClientRequestToken
	}
	if tokens[0] == "" || tokens[0] != tokens[1] {
		t.Fatalf("ClientRequestToken of the two attempts = %q, want one token, reused", tokens)
	}

	// A genuine conflict, response lost or not, is still the conflict.
	other := store.Key("THING#2", "THING")
	for _, lose := range []bool{false, true} {
		if lose {
			loss.Next("TransactWriteItems")
		}
		if err := store.PutNewAll(ctx, db, table, []store.Item{other, guard("b")}, map[int]error{1: errTaken}); !errors.Is(err, errTaken) {
			t.Fatalf("guard taken (response lost: %v): err = %v, want %v", lose, err, errTaken)
		}
	}
	loss.WantLost(t, "TransactWriteItems", 2)
	if _, err := store.Get(ctx, db, table, other); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cancelled transaction wrote its item: %v", err)
	}
}

func TestUpdateVersionedSurvivesALostResponse(t *testing.T) {
	db, table, loss := storetest.LossyTable(t, "inventory")
	ctx := context.Background()
	if err := store.PutNew(ctx, db, table, thing(5)); err != nil {
		t.Fatal(err)
	}
	loss.Next("UpdateItem")
	got, err := store.UpdateVersioned(ctx, db, table, thingKey, 1, expression.Set(expression.Name("count"), expression.Value(7)), nil)
	if err != nil {
		t.Fatalf("UpdateVersioned whose response was lost: %v, want success", err)
	}
	loss.WantLost(t, "UpdateItem", 1)
	// What the first attempt would have answered: the item it wrote.
	if number(t, got, store.VersionAttr) != "2" || number(t, got, "count") != "7" {
		t.Fatalf("UpdateVersioned returned %s, want version 2 and count 7", show(got))
	}

	// Another writer got there first: a conflict, response lost or not.
	set := expression.Set(expression.Name("count"), expression.Value(8))
	for _, lose := range []bool{false, true} {
		if lose {
			loss.Next("UpdateItem")
		}
		if _, err := store.UpdateVersioned(ctx, db, table, thingKey, 1, set, nil); !errors.Is(err, store.ErrVersionConflict) {
			t.Fatalf("stale version (response lost: %v): err = %v, want ErrVersionConflict", lose, err)
		}
	}
	loss.WantLost(t, "UpdateItem", 2)
}

// takeOne takes one from the thing's count while there is one to take: a
// guarded decrement whose condition still holds after it ran.
func takeOne(ctx context.Context, db store.DB, table string) (store.Item, error) {
	return store.UpdateExisting(ctx, db, table, thingKey,
		expression.Add(expression.Name("count"), expression.Value(-1)),
		expression.Name("count").GreaterThanEqual(expression.Value(1)))
}

func TestUpdateExistingIsAppliedOnceWhenItsResponseIsLost(t *testing.T) {
	db, table, loss := storetest.LossyTable(t, "inventory")
	ctx := context.Background()
	if err := store.PutNew(ctx, db, table, thing(10)); err != nil {
		t.Fatal(err)
	}
	// A guarded decrement whose condition still holds after it ran: the
	// retry must not take a second unit.
	loss.Next("UpdateItem")
	got, err := takeOne(ctx, db, table)
	if err != nil {
		t.Fatalf("UpdateExisting whose response was lost: %v, want success", err)
	}
	loss.WantLost(t, "UpdateItem", 1)
	if number(t, got, "count") != "9" || number(t, got, store.VersionAttr) != "2" {
		t.Fatalf("UpdateExisting returned %s, want count 9, version 2", show(got))
	}
	// Two logical writes with the same content are two writes.
	if got, err := takeOne(ctx, db, table); err != nil || number(t, got, "count") != "8" {
		t.Fatalf("second take = %s, %v; want count 8", show(got), err)
	}
	if cur, err := store.Get(ctx, db, table, thingKey); err != nil || number(t, cur, "count") != "8" {
		t.Fatalf("stored item = %s, %v; want count 8", show(cur), err)
	}

	// A genuine condition failure, response lost, is still one.
	empty := expression.Name("count").GreaterThanEqual(expression.Value(100))
	loss.Next("UpdateItem")
	if _, err := store.UpdateExisting(ctx, db, table, thingKey, expression.Add(expression.Name("count"), expression.Value(-100)), empty); !errors.Is(err, store.ErrConditionFailed) {
		t.Fatalf("condition false, response lost: err = %v, want ErrConditionFailed", err)
	}
	loss.WantLost(t, "UpdateItem", 2)
}

// Timeline: A's write lands, its response is lost; B's write to the same
// item lands; then A's retry arrives. The item no longer carries A's token
// as its latest write, but still remembers it: A's retry is recognised and
// not applied a second time.
func TestAWriteBetweenTheLostResponseAndTheRetry(t *testing.T) {
	db, table, loss := storetest.LossyTable(t, "inventory")
	ctx := context.Background()
	if err := store.PutNew(ctx, db, table, thing(10)); err != nil {
		t.Fatal(err)
	}
	loss.NextThen("UpdateItem", func() {
		if _, err := takeOne(ctx, db, table); err != nil { // B
			t.Errorf("B's take: %v", err)
		}
	})
	got, err := takeOne(ctx, db, table) // A
	if err != nil {
		t.Fatalf("A's take: %v", err)
	}
	loss.WantLost(t, "UpdateItem", 1)
	// A's write happened, and so did B's: the item as it is now.
	if number(t, got, "count") != "8" || number(t, got, store.VersionAttr) != "3" {
		t.Fatalf("A's take returned %s, want count 8, version 3", show(got))
	}
	if cur, err := store.Get(ctx, db, table, thingKey); err != nil || number(t, cur, "count") != "8" {
		t.Fatalf("stored item = %s, %v; want count 8 (two takes, each once)", show(cur), err)
	}

	// The same for a versioned write: B, at the version A wrote, lands
	// first; A's write did happen, so it is no conflict.
	loss.NextThen("UpdateItem", func() {
		if _, err := store.UpdateVersioned(ctx, db, table, thingKey, 4, expression.Set(expression.Name("b"), expression.Value(1)), nil); err != nil {
			t.Errorf("B's update: %v", err)
		}
	})
	got, err = store.UpdateVersioned(ctx, db, table, thingKey, 3, expression.Set(expression.Name("a"), expression.Value(1)), nil)
	if err != nil {
		t.Fatalf("A's versioned update: %v", err)
	}
	if number(t, got, store.VersionAttr) != "5" || number(t, got, "a") != "1" || number(t, got, "b") != "1" {
		t.Fatalf("A's versioned update returned %s, want version 5 with both writes", show(got))
	}
}

// txRecorder is a DB that records the transactions it is given, as the
// store hands them over (before any SDK middleware runs).
type txRecorder struct {
	store.DB
	got []*dynamodb.TransactWriteItemsInput
}

func (r *txRecorder) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	r.got = append(r.got, in)
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

// The SDK fills in a ClientRequestToken when a transaction has none (an
// Initialize middleware, which runs once per call, before the retry loop),
// so its retries reuse it. PutNewAll does not lean on that default: it sets
// its own token, one per call, whatever client (or fake) it is given.
func TestPutNewAllSetsOneClientRequestTokenPerCall(t *testing.T) {
	rec := &txRecorder{}
	ctx := context.Background()
	for range 2 {
		if err := store.PutNewAll(ctx, rec, "t", []store.Item{thing(1)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	a, b := aws.ToString(rec.got[0].ClientRequestToken), aws.ToString(rec.got[1].ClientRequestToken)
	if a == "" || b == "" || a == b {
		t.Fatalf("ClientRequestTokens = %q, %q; want one per call", a, b)
	}
	if len(a) > 36 {
		t.Fatalf("ClientRequestToken %q is longer than DynamoDB's 36 characters", a)
	}
}

func TestConditionalDeleteSurvivesALostResponse(t *testing.T) {
	db, table, loss := storetest.LossyTable(t, "inventory")
	ctx := context.Background()
	locked := func(lock string) store.Item {
		item := store.Key("LOCK#1", "LOCK")
		item["lock"] = store.S(lock)
		return item
	}
	del := func(lock string) error {
		return store.ConditionalDelete(ctx, db, &dynamodb.DeleteItemInput{
			TableName: aws.String(table), Key: store.Key("LOCK#1", "LOCK"),
			ConditionExpression:       aws.String("#lock = :lock"),
			ExpressionAttributeNames:  map[string]string{"#lock": "lock"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":lock": store.S(lock)},
		})
	}
	if err := store.PutNew(ctx, db, table, locked("a")); err != nil {
		t.Fatal(err)
	}
	// Somebody else's lock: a genuine failure, with their item, lost response or not.
	for _, lose := range []bool{false, true} {
		if lose {
			loss.Next("DeleteItem")
		}
		err := del("b")
		if old, failed := store.ConditionFailedItem(err); !failed || len(old) == 0 {
			t.Fatalf("delete of another's lock (response lost: %v): err = %v, want a condition failure with the item", lose, err)
		}
	}
	loss.Next("DeleteItem")
	if err := del("a"); err != nil {
		t.Fatalf("delete whose response was lost: %v, want success", err)
	}
	loss.WantLost(t, "DeleteItem", 2)
	if _, err := store.Get(ctx, db, table, store.Key("LOCK#1", "LOCK")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("item after delete: %v, want ErrNotFound", err)
	}
}

func TestConditionalUpdateWithoutReturnValuesSurvivesALostResponse(t *testing.T) {
	db, table, loss := storetest.LossyTable(t, "inventory")
	ctx := context.Background()
	item := store.Key("LOCK#1", "LOCK")
	item["lock"] = store.S("a")
	if err := store.PutNew(ctx, db, table, item); err != nil {
		t.Fatal(err)
	}
	// Shaped like an idempotency record's completion: the condition's
	// attribute is removed by the write itself.
	complete := &dynamodb.UpdateItemInput{
		TableName: aws.String(table), Key: store.Key("LOCK#1", "LOCK"),
		UpdateExpression:          aws.String("SET #done = :yes REMOVE #lock"),
		ConditionExpression:       aws.String("#lock = :lock"),
		ExpressionAttributeNames:  map[string]string{"#lock": "lock", "#done": "done"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":lock": store.S("a"), ":yes": store.N(1)},
	}
	loss.Next("UpdateItem")
	if got, err := store.ConditionalUpdate(ctx, db, complete); err != nil || got != nil {
		t.Fatalf("update whose response was lost = %s, %v; want success and no item", show(got), err)
	}
	loss.WantLost(t, "UpdateItem", 1)
	// The same input again is a new write, and the lock is gone: a failure.
	if _, err := store.ConditionalUpdate(ctx, db, complete); !store.IsConditionFailed(err) {
		t.Fatalf("second completion: err = %v, want a condition failure", err)
	}
}
