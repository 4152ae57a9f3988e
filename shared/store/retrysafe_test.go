package store

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestStampUpdate(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SET #a = :a", "SET " + stampSet + ", #a = :a"},
		{"set #a = :a REMOVE #b", "set " + stampSet + ", #a = :a REMOVE #b"},
		// The expression builder's layout: one clause per line.
		{"ADD #0 :0\nSET #1 = :1\n", "ADD #0 :0\nSET " + stampSet + ", #1 = :1\n"},
		{"ADD #n :one", "SET " + stampSet + " ADD #n :one"},
		// Placeholders that contain the word are not the keyword.
		{"REMOVE #set, #x.set", "SET " + stampSet + " REMOVE #set, #x.set"},
		// Any white space around the keyword; the actions start after all of it.
		{"REMOVE #b\tSet\t\t#a = :a", "REMOVE #b\tSet\t\t" + stampSet + ", #a = :a"},
	}
	for _, tt := range tests {
		if got := stampUpdate(tt.in); got != tt.want {
			t.Errorf("stampUpdate(%q) =\n %q\nwant\n %q", tt.in, got, tt.want)
		}
	}
}

// refusingDB fails the test if a write reaches it.
type refusingDB struct {
	DB
	t *testing.T
}

func (d refusingDB) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	d.t.Fatal("PutItem sent")
	return nil, nil
}

func (d refusingDB) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	d.t.Fatal("UpdateItem sent")
	return nil, nil
}

func (d refusingDB) DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	d.t.Fatal("DeleteItem sent")
	return nil, nil
}

// What a recognised retry could not honour, or placeholders that would
// collide with the token's, are refused before anything is sent.
func TestConditionalWritesRefuseWhatTheyCannotHonour(t *testing.T) {
	db, ctx := refusingDB{t: t}, context.Background()
	cond := aws.String("attribute_exists(#pk)")
	names := map[string]string{"#pk": PK}
	errs := map[string]error{
		"put ALL_OLD": ConditionalPut(ctx, db, &dynamodb.PutItemInput{Item: Key("a", "b"), ConditionExpression: cond,
			ExpressionAttributeNames: names, ReturnValues: types.ReturnValueAllOld}),
		"put reusing #writeToken": ConditionalPut(ctx, db, &dynamodb.PutItemInput{Item: Key("a", "b"),
			ConditionExpression: aws.String("attribute_exists(#writeToken)"), ExpressionAttributeNames: map[string]string{"#writeToken": "x"}}),
		"delete ALL_OLD": ConditionalDelete(ctx, db, &dynamodb.DeleteItemInput{Key: Key("a", "b"), ConditionExpression: cond,
			ExpressionAttributeNames: names, ReturnValues: types.ReturnValueAllOld}),
	}
	_, errs["update UPDATED_NEW"] = ConditionalUpdate(ctx, db, &dynamodb.UpdateItemInput{Key: Key("a", "b"),
		UpdateExpression: aws.String("SET #pk = :v"), ConditionExpression: cond, ExpressionAttributeNames: names,
		ReturnValues: types.ReturnValueUpdatedNew})
	_, errs["update reusing :writeToken"] = ConditionalUpdate(ctx, db, &dynamodb.UpdateItemInput{Key: Key("a", "b"),
		UpdateExpression: aws.String("SET #pk = :writeToken"), ConditionExpression: cond, ExpressionAttributeNames: names,
		ExpressionAttributeValues: map[string]types.AttributeValue{":writeToken": S("x")}})
	for name, err := range errs {
		if err == nil || !strings.HasPrefix(err.Error(), "store: ") {
			t.Errorf("%s: err = %v, want a refusal", name, err)
		}
	}
}

// The caller's input is not modified: it may be reused for another write,
// which must get a token of its own.
func TestConditionalWritesLeaveTheInputAlone(t *testing.T) {
	var sent []*dynamodb.PutItemInput
	db := recordingPutDB{sent: &sent}
	in := &dynamodb.PutItemInput{TableName: aws.String("t"), Item: Key("a", "b"), ConditionExpression: aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": PK}}
	for range 2 {
		if err := ConditionalPut(context.Background(), db, in); err != nil {
			t.Fatal(err)
		}
	}
	if len(in.Item) != 2 || len(in.ExpressionAttributeNames) != 1 || in.ExpressionAttributeValues != nil ||
		aws.ToString(in.ConditionExpression) != "attribute_not_exists(#pk)" || in.ReturnValuesOnConditionCheckFailure != "" {
		t.Fatalf("input modified: %+v", in)
	}
	a, b := sent[0].Item[WriteTokenAttr].(*types.AttributeValueMemberS), sent[1].Item[WriteTokenAttr].(*types.AttributeValueMemberS)
	if a.Value == b.Value || len(a.Value) != 32 {
		t.Fatalf("write tokens %q, %q: want a fresh one per write", a.Value, b.Value)
	}
	if got := aws.ToString(sent[0].ConditionExpression); got != "(attribute_not_exists(#pk)) AND "+notOurs {
		t.Fatalf("condition sent = %q", got)
	}
}

type recordingPutDB struct {
	DB
	sent *[]*dynamodb.PutItemInput
}

func (d recordingPutDB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	*d.sent = append(*d.sent, in)
	return &dynamodb.PutItemOutput{}, nil
}
