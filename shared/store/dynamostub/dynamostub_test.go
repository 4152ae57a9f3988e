package dynamostub

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The stub speaks the wire protocol well enough for the real SDK client to
// read a canned item back as it was given.
func TestGetItemRoundTrip(t *testing.T) {
	srv := New(t)
	item := map[string]types.AttributeValue{
		"pk":    &types.AttributeValueMemberS{Value: "PRODUCT#1"},
		"n":     &types.AttributeValueMemberN{Value: "42"},
		"ok":    &types.AttributeValueMemberBOOL{Value: true},
		"tags":  &types.AttributeValueMemberSS{Value: []string{"b", "a"}},
		"inner": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberNULL{Value: true}}}}},
	}
	srv.Answer("GetItem", `{"Item":`+ItemJSON(item)+`}`)
	out, err := srv.Client().GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("t"), Key: map[string]types.AttributeValue{"pk": item["pk"]}})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Item["n"].(*types.AttributeValueMemberN).Value; got != "42" {
		t.Errorf("n = %q, want 42", got)
	}
	if got := out.Item["tags"].(*types.AttributeValueMemberSS).Value; len(got) != 2 || got[0] != "a" {
		t.Errorf("tags = %q, want [a b]", got)
	}
	if _, err := srv.Client().PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String("t"), Item: item}); err != nil {
		t.Fatalf("PutItem with no canned answer: %v", err)
	}
	if srv.Calls("GetItem") != 1 || srv.Calls("PutItem") != 1 {
		t.Errorf("calls GetItem %d PutItem %d, want 1 and 1", srv.Calls("GetItem"), srv.Calls("PutItem"))
	}
}

// An error answer reaches the caller as the SDK's typed error, with the
// item a condition check returned.
func TestConditionFailedCarriesTheItem(t *testing.T) {
	srv := New(t)
	srv.AnswerStatus("PutItem", 400, ConditionFailed(map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "X"}}))
	_, err := srv.Client().PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String("t"), Item: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "X"}}})
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) || ccf.Item["pk"].(*types.AttributeValueMemberS).Value != "X" {
		t.Fatalf("err = %v, want a ConditionalCheckFailedException with the item", err)
	}
}
