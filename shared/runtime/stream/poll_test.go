package stream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// fakeStreams is one table's stream: shards of records, each shard closed
// or open. An iterator is "<shard>@<position>".
type fakeStreams struct {
	mu      sync.Mutex
	table   string
	shards  []fakeShard
	calls   []string
	expire  map[string]bool // iterators that come back expired, once
	noTable bool
}

type fakeShard struct {
	id, parent string
	records    []types.Record
	closed     bool
}

const testARN = "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2026-12-01T00:00:00.000"

func (f *fakeStreams) call(c string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

func (f *fakeStreams) ListStreams(_ context.Context, in *dynamodbstreams.ListStreamsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.ListStreamsOutput, error) {
	f.call("ListStreams")
	if f.noTable || aws.ToString(in.TableName) != f.table {
		return &dynamodbstreams.ListStreamsOutput{}, nil
	}
	return &dynamodbstreams.ListStreamsOutput{Streams: []types.Stream{
		{StreamArn: aws.String("old"), StreamLabel: aws.String("2025-01-01T00:00:00.000")},
		{StreamArn: aws.String(testARN), StreamLabel: aws.String("2026-12-01T00:00:00.000")},
	}}, nil
}

func (f *fakeStreams) DescribeStream(_ context.Context, in *dynamodbstreams.DescribeStreamInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	f.call("DescribeStream")
	f.mu.Lock()
	defer f.mu.Unlock()
	if aws.ToString(in.StreamArn) != testARN {
		return nil, errors.New("wrong stream")
	}
	var shards []types.Shard
	for _, s := range f.shards {
		sh := types.Shard{ShardId: aws.String(s.id)}
		if s.parent != "" {
			sh.ParentShardId = aws.String(s.parent)
		}
		shards = append(shards, sh)
	}
	return &dynamodbstreams.DescribeStreamOutput{StreamDescription: &types.StreamDescription{Shards: shards}}, nil
}

func (f *fakeStreams) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	f.call(fmt.Sprintf("GetShardIterator %s %s %s", aws.ToString(in.ShardId), in.ShardIteratorType, aws.ToString(in.SequenceNumber)))
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.shards {
		if s.id != aws.ToString(in.ShardId) {
			continue
		}
		pos := 0
		if in.ShardIteratorType == types.ShardIteratorTypeAfterSequenceNumber {
			for i, r := range s.records {
				if *r.Dynamodb.SequenceNumber == aws.ToString(in.SequenceNumber) {
					pos = i + 1
				}
			}
		}
		return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String(fmt.Sprintf("%s@%d", s.id, pos))}, nil
	}
	return nil, &types.ResourceNotFoundException{Message: aws.String("no shard")}
}

func (f *fakeStreams) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	it := aws.ToString(in.ShardIterator)
	f.call("GetRecords " + it)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.expire[it] {
		delete(f.expire, it)
		return nil, &types.ExpiredIteratorException{Message: aws.String("expired")}
	}
	id, posText, _ := strings.Cut(it, "@")
	var pos int
	fmt.Sscan(posText, &pos)
	for _, s := range f.shards {
		if s.id != id {
			continue
		}
		end := min(pos+int(aws.ToInt32(in.Limit)), len(s.records))
		out := &dynamodbstreams.GetRecordsOutput{Records: s.records[pos:end]}
		if end < len(s.records) || !s.closed {
			out.NextShardIterator = aws.String(fmt.Sprintf("%s@%d", id, end))
		}
		return out, nil
	}
	return nil, &types.ResourceNotFoundException{}
}

// rec is an INSERT of pk with sequence number seq.
func rec(pk string, seq int) types.Record {
	return types.Record{EventID: aws.String(fmt.Sprintf("ev-%d", seq)), EventName: types.OperationTypeInsert, EventVersion: aws.String("1.1"),
		Dynamodb: &types.StreamRecord{
			Keys:           map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}},
			NewImage:       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "n": &types.AttributeValueMemberN{Value: fmt.Sprint(seq)}},
			SequenceNumber: aws.String(fmt.Sprintf("%03d", seq)), StreamViewType: types.StreamViewTypeNewImage,
		}}
}

// recorder is a handler that records the pks of each batch it gets and
// fails the batches fail says, once each.
type recorder struct {
	mu      sync.Mutex
	batches [][]string
	fail    map[string]bool // a batch starting with this pk fails (once)
	stopAt  int             // cancel after this many records handled
	cancel  context.CancelFunc
	handled int
}

func (r *recorder) handle(_ context.Context, b events.DynamoDBEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var pks []string
	for _, x := range b.Records {
		pks = append(pks, x.Change.NewImage["pk"].String())
	}
	r.batches = append(r.batches, pks)
	if r.fail[pks[0]] {
		delete(r.fail, pks[0])
		return errors.New("handler failed")
	}
	r.handled += len(pks)
	if r.handled >= r.stopAt {
		r.cancel()
	}
	return nil
}

func runPoller(t *testing.T, api StreamsAPI, filter func(events.DynamoDBEventRecord) bool, r *recorder) []time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.cancel = cancel
	p := NewPoller(api, "t", "us-east-1", filter)
	p.BatchSize = 3
	var waits []time.Duration
	p.sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		if len(waits) > 200 {
			t.Fatal("the poller spins")
		}
		return ctx.Err()
	}
	if err := p.Run(ctx, r.handle); err != nil {
		t.Fatal(err)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("the poller did not hand over every record")
	}
	return waits
}

// Parents before children, batches in order, a failed batch again (with a
// backoff) and nothing after it meanwhile, filtered records passed over,
// an expired iterator replaced after the last record passed.
func TestPollerHandsTheStreamOverInOrder(t *testing.T) {
	api := &fakeStreams{table: "t", expire: map[string]bool{"child@3": true}}
	// The child sorts first by id, and must still wait for its parent.
	api.shards = []fakeShard{
		{id: "a-child", parent: "b-parent"},
		{id: "b-parent", closed: true},
	}
	api.shards[1].records = []types.Record{rec("p1", 1), rec("skip-1", 2), rec("p2", 3), rec("p3", 4)}
	api.shards[0].id = "child"
	api.shards[0].records = []types.Record{rec("c1", 5), rec("c2", 6), rec("c3", 7), rec("c4", 8), rec("c5", 9)}
	keep := func(r events.DynamoDBEventRecord) bool {
		return !strings.HasPrefix(r.Change.NewImage["pk"].String(), "skip")
	}
	r := &recorder{fail: map[string]bool{"c1": true}, stopAt: 8}
	waits := runPoller(t, api, keep, r)

	want := [][]string{{"p1", "p2"}, {"p3"}, {"c1", "c2", "c3"}, {"c1", "c2", "c3"}, {"c4", "c5"}}
	if !reflect.DeepEqual(r.batches, want) {
		t.Errorf("batches %v, want %v", r.batches, want)
	}
	var iterators []string
	for _, c := range api.calls {
		if strings.HasPrefix(c, "GetShardIterator") {
			iterators = append(iterators, c)
		}
	}
	wantIt := []string{"GetShardIterator b-parent TRIM_HORIZON ", "GetShardIterator child TRIM_HORIZON ", "GetShardIterator child AFTER_SEQUENCE_NUMBER 007"}
	if !reflect.DeepEqual(iterators, wantIt) {
		t.Errorf("iterators %v, want %v", iterators, wantIt)
	}
	if got := strings.Count(strings.Join(api.calls, ","), "DescribeStream"); got != 2 {
		t.Errorf("%d DescribeStream calls, want 2 (at start, when the parent closed)", got)
	}
	backoff := false
	for _, w := range waits {
		backoff = backoff || (w >= 500*time.Millisecond && w <= time.Second)
	}
	if !backoff {
		t.Errorf("no backoff after the failed batch: waits %v", waits)
	}
}

func TestPollerWithoutAStreamFails(t *testing.T) {
	p := NewPoller(&fakeStreams{table: "t", noTable: true}, "t", "us-east-1", nil)
	if err := p.Run(context.Background(), func(context.Context, events.DynamoDBEvent) error { return nil }); err == nil || !strings.Contains(err.Error(), "no stream") {
		t.Errorf("Run = %v", err)
	}
}

func TestConvertRecordIsWhatLambdaDelivers(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r := types.Record{EventID: aws.String("e1"), EventName: types.OperationTypeModify, EventVersion: aws.String("1.1"),
		Dynamodb: &types.StreamRecord{
			ApproximateCreationDateTime: &at, SequenceNumber: aws.String("42"), SizeBytes: aws.Int64(99), StreamViewType: types.StreamViewTypeNewAndOldImages,
			Keys: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "k"}},
			NewImage: map[string]types.AttributeValue{
				"s": &types.AttributeValueMemberS{Value: "x"}, "n": &types.AttributeValueMemberN{Value: "1.5"},
				"b": &types.AttributeValueMemberB{Value: []byte{1, 2}}, "t": &types.AttributeValueMemberBOOL{Value: true},
				"z": &types.AttributeValueMemberNULL{Value: true}, "ss": &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
				"ns": &types.AttributeValueMemberNS{Value: []string{"1"}}, "bs": &types.AttributeValueMemberBS{Value: [][]byte{{3}}},
				"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "in"}}},
				"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberN{Value: "2"}}},
			},
			OldImage: map[string]types.AttributeValue{"s": &types.AttributeValueMemberS{Value: "old"}},
		}}
	got := convertRecord(r, testARN, "eu-west-1")
	want := events.DynamoDBEventRecord{
		EventID: "e1", EventName: "MODIFY", EventVersion: "1.1", EventSource: "aws:dynamodb", AWSRegion: "eu-west-1", EventSourceArn: testARN,
		Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: at}, SequenceNumber: "42", SizeBytes: 99, StreamViewType: "NEW_AND_OLD_IMAGES",
			Keys: map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute("k")},
			NewImage: map[string]events.DynamoDBAttributeValue{
				"s": events.NewStringAttribute("x"), "n": events.NewNumberAttribute("1.5"), "b": events.NewBinaryAttribute([]byte{1, 2}),
				"t": events.NewBooleanAttribute(true), "z": events.NewNullAttribute(), "ss": events.NewStringSetAttribute([]string{"a", "b"}),
				"ns": events.NewNumberSetAttribute([]string{"1"}), "bs": events.NewBinarySetAttribute([][]byte{{3}}),
				"l": events.NewListAttribute([]events.DynamoDBAttributeValue{events.NewStringAttribute("in")}),
				"m": events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"k": events.NewNumberAttribute("2")}),
			},
			OldImage: map[string]events.DynamoDBAttributeValue{"s": events.NewStringAttribute("old")},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("converted\n%+v\nwant\n%+v", got, want)
	}
}

// On Knative the function polls and answers the probes on $PORT, nothing
// else, until it is told to stop.
func TestPollAndServe(t *testing.T) {
	api := &fakeStreams{table: "t", shards: []fakeShard{{id: "s", records: []types.Record{rec("k1", 1)}}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	handled := make(chan struct{}, 1)
	h := func(context.Context, events.DynamoDBEvent) error {
		select {
		case handled <- struct{}{}:
		default:
		}
		return nil
	}
	p := NewPoller(api, "t", "us-east-1", nil)
	p.Idle = 10 * time.Millisecond
	done := make(chan error, 1)
	go func() { done <- pollAndServe(ctx, p, h, ln) }()
	select {
	case <-handled:
	case <-time.After(5 * time.Second):
		t.Fatal("no batch handled")
	}
	base := "http://" + ln.Addr().String()
	for path, want := range map[string]int{"/healthz": http.StatusOK, "/readyz": http.StatusOK, "/": http.StatusNotFound} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("pollAndServe = %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("pollAndServe did not stop")
	}
}

// A stream that cannot be read stops the function (and Kubernetes starts it
// again), rather than leaving it serving probes while relaying nothing.
func TestPollAndServeStopsWhenThePollerCannotRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := NewPoller(&fakeStreams{table: "t", noTable: true}, "t", "us-east-1", nil)
	err = pollAndServe(context.Background(), p, func(context.Context, events.DynamoDBEvent) error { return nil }, ln)
	if err == nil || !strings.Contains(err.Error(), "no stream") {
		t.Errorf("pollAndServe = %v", err)
	}
}
