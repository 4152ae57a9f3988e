package awscalls_test

import (
	"bytes"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/shop-serverless/shop/shared/awscalls"
	"github.com/shop-serverless/shop/shared/store"
)

type answerOK struct{}

func (answerOK) Do(r *http.Request) (*http.Response, error) {
	_, _ = io.Copy(io.Discard, r.Body)
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{}`))}, nil
}

// The recorder keeps an item's key by attribute name; those names must be
// the ones shared/store writes, or a Put's partition key goes unrecorded.
func TestAnItemWrittenThroughStoreKeepsItsKey(t *testing.T) {
	var out bytes.Buffer
	db := dynamodb.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint: aws.String("http://127.0.0.1:1"),
		HTTPClient:   awscalls.New(answerOK{}, &out),
	})
	item := store.Key("BREAKER#users", "STATE")
	item["state"] = store.S("open")
	if _, err := db.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String("t"), Item: item}); err != nil {
		t.Fatal(err)
	}
	c, ok := awscalls.ParseLine(strings.TrimSpace(out.String()))
	if !ok || len(c.Needs) != 1 {
		t.Fatalf("recorded %q", &out)
	}
	want := []map[string]string{{store.PK: "BREAKER#users", store.SK: "STATE"}}
	if !reflect.DeepEqual(c.Needs[0].Keys, want) {
		t.Errorf("keys %v, want %v", c.Needs[0].Keys, want)
	}
}
