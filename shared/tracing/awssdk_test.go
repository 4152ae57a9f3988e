package tracing

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// dynamoStub answers DynamoDB's JSON protocol with scripted answers, one
// per request, and keeps the trace headers it was sent.
type dynamoStub struct {
	mu      sync.Mutex
	answers []stubAnswer
	headers []string
}

type stubAnswer struct {
	status int
	body   string
}

func (s *dynamoStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	s.mu.Lock()
	s.headers = append(s.headers, r.Header.Get(HeaderName))
	a := stubAnswer{200, `{}`}
	if len(s.answers) > 0 {
		a, s.answers = s.answers[0], s.answers[1:]
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-Requestid", "req-"+http.StatusText(a.status)[:2])
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func stubConfig(url string) aws.Config {
	cfg := aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 3
				o.RateLimiter = ratelimit.None
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		},
	}
	AWS(&cfg)
	return cfg
}

const throttled = `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}`

func TestAWSSubsegmentPerCall(t *testing.T) {
	tests := []struct {
		name                   string
		answers                []stubAnswer
		wantErr                bool
		retries                float64
		status                 float64
		error, throttle, fault bool
		requestID              string
	}{
		{"ok", nil, false, 0, 200, false, false, false, "req-OK"},
		{"throttled then ok", []stubAnswer{{400, throttled}, {200, `{}`}}, false, 1, 200, false, false, false, "req-OK"},
		{"throttled for good", []stubAnswer{{400, throttled}, {400, throttled}, {400, throttled}}, true, 2, 400, true, true, false, "req-Ba"},
		{"not found", []stubAnswer{{400, `{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"no table"}`}}, true, 0, 400, true, false, false, "req-Ba"},
		{"server fault", []stubAnswer{{500, `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"oops"}`}, {500, `{}`}, {500, `{}`}}, true, 2, 500, false, false, true, "req-In"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := startDaemon(t)
			sampleAll(t, true)
			stub := &dynamoStub{answers: tt.answers}
			srv := httptest.NewServer(stub)
			defer srv.Close()
			db := dynamodb.NewFromConfig(stubConfig(srv.URL))

			ctx, inv := Invocation(context.Background(), "")
			_, err := db.GetItem(ctx, &dynamodb.GetItemInput{
				TableName: aws.String("shop-orders"),
				Key:       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "o-1"}},
			})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v", err)
			}
			inv.End(nil)

			docs := d.Wait(2)
			sub := byName(t, docs, "DynamoDB")
			checkDocument(t, sub)
			seg := byName(t, docs, inv.name)
			if sub.Str("type") != "subsegment" || sub.Str("namespace") != "aws" || sub.Str("parent_id") != seg.Str("id") {
				t.Errorf("subsegment %v", sub)
			}
			a := sub.Obj("aws")
			if a["operation"] != "GetItem" || a["table_name"] != "shop-orders" || a["region"] != "us-east-1" || a["request_id"] != tt.requestID {
				t.Errorf("aws %v", a)
			}
			if r, _ := a["retries"].(float64); r != tt.retries {
				t.Errorf("retries %v, want %v", a["retries"], tt.retries)
			}
			if st := sub.Obj("http")["response"].(map[string]any)["status"]; st != tt.status {
				t.Errorf("status %v, want %v", st, tt.status)
			}
			if sub["error"] == true != tt.error || sub["throttle"] == true != tt.throttle || sub["fault"] == true != tt.fault {
				t.Errorf("error %v throttle %v fault %v, want %v %v %v", sub["error"], sub["throttle"], sub["fault"], tt.error, tt.throttle, tt.fault)
			}
			if (sub.Obj("cause") != nil) != tt.wantErr {
				t.Errorf("cause %v", sub.Obj("cause"))
			}
			for _, h := range stub.headers {
				if h != "Root="+seg.Str("trace_id")+";Parent="+sub.Str("id")+";Sampled=1" {
					t.Errorf("request's trace header %q, want the subsegment's", h)
				}
			}
		})
	}
}

func TestAWSWithoutASpanStillCalls(t *testing.T) {
	t.Setenv("AWS_XRAY_CONTEXT_MISSING", "IGNORE_ERROR")
	stub := &dynamoStub{}
	srv := httptest.NewServer(stub)
	defer srv.Close()
	db := dynamodb.NewFromConfig(stubConfig(srv.URL))
	if _, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String("t")}); err != nil {
		t.Fatal(err)
	}
	if stub.headers[0] != "" {
		t.Errorf("trace header %q without a span", stub.headers[0])
	}
}

func TestAWSRecordsTheQueue(t *testing.T) {
	d := startDaemon(t)
	sampleAll(t, true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = io.WriteString(w, `{"MessageId":"m-1","MD5OfMessageBody":"8d777f385d3dfec8815d20f7496026dc"}`)
	}))
	defer srv.Close()
	q := sqs.NewFromConfig(stubConfig(srv.URL))
	ctx, inv := Invocation(context.Background(), "")
	_, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(srv.URL + "/000000000000/orders"), MessageBody: aws.String("data")})
	inv.End(nil)
	if err != nil && !strings.Contains(err.Error(), "checksum") {
		t.Fatal(err)
	}
	sub := byName(t, d.Wait(2), "SQS")
	if a := sub.Obj("aws"); a["operation"] != "SendMessage" || a["queue_url"] != srv.URL+"/000000000000/orders" {
		t.Errorf("aws %v", a)
	}
}

func TestStringField(t *testing.T) {
	type input struct {
		TableName *string
		QueueUrl  string //nolint:revive // the SDK's spelling
	}
	for _, tt := range []struct {
		params any
		field  string
		want   string
	}{
		{&input{TableName: aws.String("t")}, "TableName", "t"},
		{&input{}, "TableName", ""},
		{&input{QueueUrl: "q"}, "QueueUrl", ""}, // not a *string
		{input{TableName: aws.String("t")}, "TableName", ""},
		{(*input)(nil), "TableName", ""},
		{nil, "TableName", ""},
		{errors.New("x"), "TableName", ""},
	} {
		if got := stringField(tt.params, tt.field); got != tt.want {
			t.Errorf("stringField(%#v, %s) = %q, want %q", tt.params, tt.field, got, tt.want)
		}
	}
}

// SFN's client is of an older generation than DynamoDB's: it registers its
// service metadata in a middleware, not in the context.
func TestAWSNamesEveryGenerationOfClient(t *testing.T) {
	d := startDaemon(t)
	sampleAll(t, true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = io.WriteString(w, `{"executionArn":"arn:aws:states:us-east-1:000000000000:execution:saga:o-1","startDate":1}`)
	}))
	defer srv.Close()
	ctx, inv := Invocation(context.Background(), "")
	_, err := sfn.NewFromConfig(stubConfig(srv.URL)).StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String("arn:aws:states:us-east-1:000000000000:stateMachine:saga"), Input: aws.String(`{}`),
	})
	inv.End(nil)
	if err != nil {
		t.Fatal(err)
	}
	sub := byName(t, d.Wait(2), "SFN")
	if a := sub.Obj("aws"); a["operation"] != "StartExecution" || a["region"] != "us-east-1" ||
		a["state_machine_arn"] != "arn:aws:states:us-east-1:000000000000:stateMachine:saga" {
		t.Errorf("aws %v", a)
	}
}

func TestTableNamesOfBatchAndTransactionCalls(t *testing.T) {
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "k"}}
	tests := []struct {
		name   string
		params any
		want   []string
	}{
		{"transaction over two tables", &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String("shop-orders"), Item: key}},
			{ConditionCheck: &types.ConditionCheck{TableName: aws.String("shop-inventory"), Key: key}},
			{Update: &types.Update{TableName: aws.String("shop-orders"), Key: key}},
		}}, []string{"shop-inventory", "shop-orders"}},
		{"batch read", &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
			"shop-users": {Keys: []map[string]types.AttributeValue{key}},
		}}, []string{"shop-users"}},
		{"one table", &dynamodb.GetItemInput{TableName: aws.String("shop-orders"), Key: key}, nil},
		{"not an input", "GetItem", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tableNames(tt.params); !slices.Equal(got, tt.want) {
				t.Errorf("tableNames = %v, want %v", got, tt.want)
			}
		})
	}
}
