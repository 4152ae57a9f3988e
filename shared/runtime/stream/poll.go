package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/shop-serverless/shop/shared/backoff"
)

// StreamsAPI is the part of the DynamoDB Streams API the poller uses;
// *dynamodbstreams.Client satisfies it. IAM: dynamodb:ListStreams,
// DescribeStream, GetShardIterator and GetRecords on the table's
// "<table ARN>/stream/*", as a stream mapping's role has.
type StreamsAPI interface {
	ListStreams(ctx context.Context, in *dynamodbstreams.ListStreamsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.ListStreamsOutput, error)
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// Poller reads a table's stream itself, for where no stream mapping
// delivers it (Knative), and hands its records to a Handler as a mapping
// would: in batches of at most BatchSize, in order within a shard, parents'
// shards before their children's, a failed batch again (with backoff) and
// nothing after it until it succeeds.
//
// It keeps its place in memory only: a new process starts every shard at
// its oldest record (TRIM_HORIZON, the last 24 hours), so records may be
// handled again after a restart, never lost. A relay is made for that:
// consumers deduplicate on the event id. Run one poller per table (a
// Knative service with exactly one replica).
type Poller struct {
	api    StreamsAPI
	table  string
	filter func(events.DynamoDBEventRecord) bool
	region string

	// BatchSize is the most records one Handler call gets.
	BatchSize int32
	// Idle is the wait after a round that found no new records.
	Idle time.Duration
	// Backoff is the first wait before a failed batch is handed again; it
	// doubles up to MaxBackoff.
	Backoff, MaxBackoff time.Duration

	sleep func(ctx context.Context, d time.Duration) error // tests
}

// NewPoller returns a poller of table's stream; filter, if set, keeps the
// records a stream mapping's filter would let through (the others are
// passed over, never handed to the handler).
func NewPoller(api StreamsAPI, table, region string, filter func(events.DynamoDBEventRecord) bool) *Poller {
	return &Poller{api: api, table: table, region: region, filter: filter,
		BatchSize: 10, Idle: time.Second, Backoff: time.Second, MaxBackoff: 30 * time.Second, sleep: backoff.Sleep}
}

// shard is where the poller stands in one shard.
type shard struct {
	id, parent string
	iterator   string // "" to get one: after lastSeq, or from the oldest record
	lastSeq    string // the last record passed (handled or filtered out)
	done       bool   // closed and read to its end
	// pending is a batch the handler failed, with the iterator after it.
	pending  []events.DynamoDBEventRecord
	next     *string
	failures int
}

// Run polls until ctx ends (nil then) or the stream cannot be read at all
// (no stream on the table).
func (p *Poller) Run(ctx context.Context, h Handler) error {
	arn, err := p.streamARN(ctx)
	if err != nil {
		return err
	}
	shards := map[string]*shard{}
	describe := true
	for ctx.Err() == nil {
		if describe {
			if err := p.describe(ctx, arn, shards); err != nil {
				slog.WarnContext(ctx, "stream: describe stream failed; retrying", "stream", arn, "error", err)
				if p.sleep(ctx, p.Backoff) != nil {
					return nil
				}
				continue
			}
			describe = false
		}
		progressed, wait := false, time.Duration(0)
		for _, s := range p.ready(shards) {
			moved, closed, retryIn := p.step(ctx, arn, s, h)
			progressed = progressed || moved
			describe = describe || closed
			wait = max(wait, retryIn)
		}
		if !progressed && wait == 0 {
			wait = p.Idle
		}
		if wait > 0 && p.sleep(ctx, wait) != nil {
			return nil
		}
	}
	return nil
}

// streamARN is the table's newest stream.
func (p *Poller) streamARN(ctx context.Context) (string, error) {
	var streams []types.Stream
	in := &dynamodbstreams.ListStreamsInput{TableName: aws.String(p.table)}
	for {
		out, err := p.api.ListStreams(ctx, in)
		if err != nil {
			return "", fmt.Errorf("stream: list the streams of %s: %w", p.table, err)
		}
		streams = append(streams, out.Streams...)
		if out.LastEvaluatedStreamArn == nil {
			break
		}
		in.ExclusiveStartStreamArn = out.LastEvaluatedStreamArn
	}
	if len(streams) == 0 {
		return "", fmt.Errorf("stream: table %s has no stream", p.table)
	}
	newest := slices.MaxFunc(streams, func(a, b types.Stream) int {
		return strings.Compare(aws.ToString(a.StreamLabel), aws.ToString(b.StreamLabel))
	})
	return aws.ToString(newest.StreamArn), nil
}

// describe adds the stream's shards not known yet.
func (p *Poller) describe(ctx context.Context, arn string, shards map[string]*shard) error {
	in := &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)}
	for {
		out, err := p.api.DescribeStream(ctx, in)
		if err != nil {
			return err
		}
		for _, s := range out.StreamDescription.Shards {
			id := aws.ToString(s.ShardId)
			if _, known := shards[id]; !known {
				shards[id] = &shard{id: id, parent: aws.ToString(s.ParentShardId)}
			}
		}
		if out.StreamDescription.LastEvaluatedShardId == nil {
			return nil
		}
		in.ExclusiveStartShardId = out.StreamDescription.LastEvaluatedShardId
	}
}

// ready are the shards to read now, in id order: not done, and with no
// parent still being read (a parent unknown has aged out of the stream).
func (p *Poller) ready(shards map[string]*shard) []*shard {
	var out []*shard
	for _, s := range shards {
		if s.done {
			continue
		}
		if parent, ok := shards[s.parent]; ok && !parent.done {
			continue
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *shard) int { return strings.Compare(a.id, b.id) })
	return out
}

// step reads and hands on one batch of shard s. moved: records were
// passed; closed: the shard ended (its children may be new); retryIn: how
// long to wait before s is worth trying again (0: at once).
func (p *Poller) step(ctx context.Context, arn string, s *shard, h Handler) (moved, closed bool, retryIn time.Duration) {
	if s.pending == nil {
		if s.iterator == "" {
			in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn), ShardId: aws.String(s.id), ShardIteratorType: types.ShardIteratorTypeTrimHorizon}
			if s.lastSeq != "" {
				in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(s.lastSeq)
			}
			out, err := p.api.GetShardIterator(ctx, in)
			var gone *types.ResourceNotFoundException
			if errors.As(err, &gone) {
				s.done = true // aged out of the stream
				return false, true, 0
			}
			if err != nil {
				slog.WarnContext(ctx, "stream: get shard iterator failed", "shard", s.id, "error", err)
				return false, false, p.Backoff
			}
			s.iterator = aws.ToString(out.ShardIterator)
		}
		out, err := p.api.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: aws.String(s.iterator), Limit: aws.Int32(p.BatchSize)})
		var expired *types.ExpiredIteratorException
		var trimmed *types.TrimmedDataAccessException
		switch {
		case errors.As(err, &expired):
			s.iterator = "" // a new one, after the last record passed
			return false, false, 0
		case errors.As(err, &trimmed):
			s.iterator, s.lastSeq = "", "" // the place is gone: from the oldest record there is
			return false, false, 0
		case err != nil:
			slog.WarnContext(ctx, "stream: get records failed", "shard", s.id, "error", err)
			return false, false, p.Backoff
		}
		if len(out.Records) > 0 {
			s.lastSeq = aws.ToString(out.Records[len(out.Records)-1].Dynamodb.SequenceNumber)
		}
		batch := make([]events.DynamoDBEventRecord, 0, len(out.Records))
		for _, r := range out.Records {
			rec := convertRecord(r, arn, p.region)
			if p.filter == nil || p.filter(rec) {
				batch = append(batch, rec)
			}
		}
		s.pending, s.next = batch, out.NextShardIterator
		moved = len(out.Records) > 0
	}
	if len(s.pending) > 0 {
		if err := h(ctx, events.DynamoDBEvent{Records: s.pending}); err != nil {
			s.failures++
			slog.ErrorContext(ctx, "stream: batch failed; it comes again", "shard", s.id, "records", len(s.pending), "attempt", s.failures, "error", err)
			return moved, false, backoff.Jittered(p.Backoff, p.MaxBackoff, s.failures-1)
		}
	}
	s.pending, s.failures = nil, 0
	if s.next == nil {
		s.done = true
		return true, true, 0
	}
	s.iterator, s.next = *s.next, nil
	return moved, false, 0
}

// convertRecord is a DynamoDB Streams record as a Lambda stream mapping
// delivers it.
func convertRecord(r types.Record, arn, region string) events.DynamoDBEventRecord {
	out := events.DynamoDBEventRecord{
		EventID: aws.ToString(r.EventID), EventName: string(r.EventName), EventVersion: aws.ToString(r.EventVersion),
		EventSource: "aws:dynamodb", AWSRegion: region, EventSourceArn: arn,
	}
	if d := r.Dynamodb; d != nil {
		out.Change = events.DynamoDBStreamRecord{
			Keys: image(d.Keys), NewImage: image(d.NewImage), OldImage: image(d.OldImage),
			SequenceNumber: aws.ToString(d.SequenceNumber), SizeBytes: aws.ToInt64(d.SizeBytes),
			StreamViewType: string(d.StreamViewType),
		}
		if d.ApproximateCreationDateTime != nil {
			out.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
		}
	}
	return out
}

func image(m map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if m == nil {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		out[k] = attribute(v)
	}
	return out
}

func attribute(v types.AttributeValue) events.DynamoDBAttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value)
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value)
	case *types.AttributeValueMemberNULL:
		return events.NewNullAttribute()
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value)
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value)
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value)
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = attribute(e)
		}
		return events.NewListAttribute(l)
	case *types.AttributeValueMemberM:
		return events.NewMapAttribute(image(v.Value))
	}
	return events.NewNullAttribute() // a type added to the API later
}
