package livediff

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	etypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	qtypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// EventBus is an EventBridge custom bus.
type EventBus struct {
	Description string `json:"description" diff:"description"`
	// Policy is the bus's resource policy; none reads as no statements.
	Policy     Policy `json:"policy" diff:"resource policy"`
	DeadLetter string `json:"deadLetter,omitempty" diff:"dead-letter target"`
	KMSKey     string `json:"kmsKey,omitempty" diff:"-"`
	Encrypted  bool   `json:"encrypted" diff:"customer key"`
	LogConfig  string `json:"logConfig,omitempty" diff:"log config"` // canonical JSON
}

// Archive is an EventBridge archive. How many events it holds and how
// large it is are not recorded: they are traffic, not configuration.
type Archive struct {
	Source        string `json:"source" diff:"source"` // the bus's ARN
	Description   string `json:"description" diff:"description"`
	EventPattern  string `json:"eventPattern,omitempty" diff:"event pattern"` // canonical JSON; "" for every event
	RetentionDays int32  `json:"retentionDays" diff:"retention days"`
	State         string `json:"state" diff:"state"`
	Encrypted     bool   `json:"encrypted" diff:"customer key"`
	KMSKey        string `json:"kmsKey,omitempty" diff:"-"`
}

// Rule is an EventBridge rule on one of the stack's buses, with its
// targets by id.
type Rule struct {
	Bus          string            `json:"bus" diff:"bus"`
	Description  string            `json:"description" diff:"description"`
	EventPattern string            `json:"eventPattern,omitempty" diff:"event pattern"` // canonical JSON
	Schedule     string            `json:"schedule,omitempty" diff:"schedule"`
	State        string            `json:"state" diff:"state"`
	Role         string            `json:"role,omitempty" diff:"role"`
	Targets      map[string]Target `json:"targets" diff:"target"`
}

// Target is a rule's target. Its parameters for other kinds of target
// (ECS, Batch, HTTP, ...) are left out: the stack targets queues only, and
// a target with them differs in its ARN anyway.
type Target struct {
	ARN              string `json:"arn" diff:"arn"`
	Role             string `json:"role,omitempty" diff:"role"`
	Input            string `json:"input,omitempty" diff:"input"`
	InputPath        string `json:"inputPath,omitempty" diff:"input path"`
	InputTransformer string `json:"inputTransformer,omitempty" diff:"input transformer"` // canonical JSON
	MessageGroup     string `json:"messageGroup,omitempty" diff:"message group"`
	RetryPolicy      string `json:"retryPolicy,omitempty" diff:"retry policy"` // canonical JSON
	DeadLetter       string `json:"deadLetter,omitempty" diff:"dead-letter target"`
}

// Queue is an SQS queue's configuration: its attributes but the counts,
// the timestamps and its ARN (which its name and the account make).
type Queue struct {
	VisibilityTimeout    string            `json:"visibilityTimeout" diff:"visibility timeout"`
	MessageRetention     string            `json:"messageRetention" diff:"message retention"`
	MaximumMessageSize   string            `json:"maximumMessageSize" diff:"maximum message size"`
	DelaySeconds         string            `json:"delaySeconds" diff:"delay"`
	ReceiveWaitTime      string            `json:"receiveWaitTime" diff:"receive wait time"`
	SQSManagedEncryption string            `json:"sqsManagedEncryption" diff:"sqs-managed encryption"`
	KMSKey               string            `json:"kmsKey,omitempty" diff:"kms key"`
	KMSReuseSeconds      string            `json:"kmsReuseSeconds,omitempty" diff:"kms data key reuse"`
	FIFO                 string            `json:"fifo,omitempty" diff:"fifo"`
	ContentDeduplication string            `json:"contentDeduplication,omitempty" diff:"content-based deduplication"`
	DeduplicationScope   string            `json:"deduplicationScope,omitempty" diff:"deduplication scope"`
	ThroughputLimit      string            `json:"throughputLimit,omitempty" diff:"fifo throughput limit"`
	RedriveTarget        string            `json:"redriveTarget,omitempty" diff:"redrive target"` // the dead-letter queue's ARN
	MaxReceiveCount      string            `json:"maxReceiveCount,omitempty" diff:"max receive count"`
	RedriveAllowPolicy   string            `json:"redriveAllowPolicy,omitempty" diff:"redrive allow policy"` // canonical JSON
	Policy               Policy            `json:"policy" diff:"policy"`
	Tags                 map[string]string `json:"tags,omitempty" diff:"-"`
}

// Mapping is a Lambda event source mapping, keyed by its function and its
// source ("{prefix}-orders-relay <- table/{prefix}-orders/stream"). A
// table stream's ARN ends in the time the stream was made, which no two
// stacks share: it reads as StreamToken.
type Mapping struct {
	Source             string   `json:"source" diff:"source"`
	State              string   `json:"state" diff:"state"` // Enabled, Disabled
	BatchSize          int32    `json:"batchSize" diff:"batch size"`
	BatchingWindowSecs int32    `json:"batchingWindow" diff:"batching window"`
	StartingPosition   string   `json:"startingPosition,omitempty" diff:"starting position"`
	Filters            []string `json:"filters,omitempty" diff:"filters"` // canonical JSON, sorted
	ResponseTypes      []string `json:"responseTypes,omitempty" diff:"response types"`
	MaximumConcurrency string   `json:"maximumConcurrency,omitempty" diff:"maximum concurrency"`
	// Stream mappings only; "" where a mapping reports none (SQS).
	BisectOnError         string `json:"bisectOnError,omitempty" diff:"bisect on error"`
	MaximumRetryAttempts  string `json:"maximumRetryAttempts,omitempty" diff:"maximum retry attempts"`
	MaximumRecordAgeSecs  string `json:"maximumRecordAge,omitempty" diff:"maximum record age"`
	ParallelizationFactor string `json:"parallelizationFactor,omitempty" diff:"parallelization factor"`
	TumblingWindowSecs    string `json:"tumblingWindow,omitempty" diff:"tumbling window"`
	OnFailure             string `json:"onFailure,omitempty" diff:"on-failure destination"`
}

// StreamToken stands for the label at the end of a table stream's ARN
// (table/<name>/stream/<time it was made>).
const StreamToken = "{stream}"

var streamLabelRE = regexp.MustCompile(`(:table/[A-Za-z0-9_.-]+/stream/)[^/"\s]+`)

// readEvents reads the stack's buses (<prefix>-events) with the rules of
// the stack's name on them and their targets, its archives, its queues and
// every event source mapping of its functions.
func readEvents(ctx context.Context, sn *snapshot) error {
	if err := readBuses(ctx, sn); err != nil {
		return err
	}
	if err := readArchives(ctx, sn); err != nil {
		return err
	}
	if err := readQueues(ctx, sn); err != nil {
		return err
	}
	return readMappings(ctx, sn)
}

func readBuses(ctx context.Context, sn *snapshot) error {
	var names []string
	// The EventBridge SDK has no paginators: follow NextToken.
	in := &eventbridge.ListEventBusesInput{NamePrefix: &sn.s.Prefix}
	for {
		out, err := sn.events.ListEventBuses(ctx, in)
		if err != nil {
			return fmt.Errorf("list event buses: %w", err)
		}
		for _, b := range out.EventBuses {
			if sn.n.owns(aws.ToString(b.Name)) {
				names = append(names, aws.ToString(b.Name))
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	sn.s.EventBuses, sn.s.Rules = map[string]EventBus{}, map[string]Rule{}
	for _, name := range names {
		out, err := sn.events.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: &name})
		if err != nil {
			return fmt.Errorf("event bus %s: %w", name, err)
		}
		b := EventBus{
			Description: aws.ToString(out.Description),
			Policy:      Policy{Statements: map[string]string{}},
			KMSKey:      aws.ToString(out.KmsKeyIdentifier),
			Encrypted:   aws.ToString(out.KmsKeyIdentifier) != "",
		}
		if out.DeadLetterConfig != nil {
			b.DeadLetter = aws.ToString(out.DeadLetterConfig.Arn)
		}
		if out.LogConfig != nil {
			b.LogConfig = jsonOf(out.LogConfig)
		}
		if doc := aws.ToString(out.Policy); doc != "" {
			if b.Policy, err = parsePolicy(doc); err != nil {
				return fmt.Errorf("event bus %s: policy: %w", name, err)
			}
		}
		sn.s.EventBuses[name] = b
		if err := readRules(ctx, sn, name); err != nil {
			return err
		}
	}
	return nil
}

// readRules reads the rules of the stack's name on bus, with their targets.
// A rule of another name there (a test's capture rule) is not the stack's.
func readRules(ctx context.Context, sn *snapshot, bus string) error {
	var rules []etypes.Rule
	in := &eventbridge.ListRulesInput{EventBusName: &bus}
	for {
		out, err := sn.events.ListRules(ctx, in)
		if err != nil {
			return fmt.Errorf("event bus %s: list rules: %w", bus, err)
		}
		for _, r := range out.Rules {
			if sn.n.owns(aws.ToString(r.Name)) {
				rules = append(rules, r)
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	for _, r := range rules {
		name := aws.ToString(r.Name)
		rule := Rule{
			Bus:          bus,
			Description:  aws.ToString(r.Description),
			EventPattern: canonicalJSON(aws.ToString(r.EventPattern)),
			Schedule:     aws.ToString(r.ScheduleExpression),
			State:        string(r.State),
			Role:         aws.ToString(r.RoleArn),
			Targets:      map[string]Target{},
		}
		tin := &eventbridge.ListTargetsByRuleInput{Rule: &name, EventBusName: &bus}
		for {
			out, err := sn.events.ListTargetsByRule(ctx, tin)
			if err != nil {
				return fmt.Errorf("rule %s: list targets: %w", name, err)
			}
			for _, t := range out.Targets {
				rule.Targets[aws.ToString(t.Id)] = targetState(t)
			}
			if aws.ToString(out.NextToken) == "" {
				break
			}
			tin.NextToken = out.NextToken
		}
		sn.s.Rules[name] = rule
	}
	return nil
}

func targetState(t etypes.Target) Target {
	out := Target{
		ARN:       aws.ToString(t.Arn),
		Role:      aws.ToString(t.RoleArn),
		Input:     aws.ToString(t.Input),
		InputPath: aws.ToString(t.InputPath),
	}
	if t.InputTransformer != nil {
		out.InputTransformer = jsonOf(t.InputTransformer)
	}
	if t.SqsParameters != nil {
		out.MessageGroup = aws.ToString(t.SqsParameters.MessageGroupId)
	}
	if t.RetryPolicy != nil {
		out.RetryPolicy = jsonOf(t.RetryPolicy)
	}
	if t.DeadLetterConfig != nil {
		out.DeadLetter = aws.ToString(t.DeadLetterConfig.Arn)
	}
	return out
}

func readArchives(ctx context.Context, sn *snapshot) error {
	var names []string
	in := &eventbridge.ListArchivesInput{NamePrefix: &sn.s.Prefix}
	for {
		out, err := sn.events.ListArchives(ctx, in)
		if err != nil {
			return fmt.Errorf("list archives: %w", err)
		}
		for _, a := range out.Archives {
			if sn.n.owns(aws.ToString(a.ArchiveName)) {
				names = append(names, aws.ToString(a.ArchiveName))
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	sn.s.Archives = map[string]Archive{}
	for _, name := range names {
		out, err := sn.events.DescribeArchive(ctx, &eventbridge.DescribeArchiveInput{ArchiveName: &name})
		if err != nil {
			return fmt.Errorf("archive %s: %w", name, err)
		}
		sn.s.Archives[name] = Archive{
			Source:        aws.ToString(out.EventSourceArn),
			Description:   aws.ToString(out.Description),
			EventPattern:  canonicalJSON(aws.ToString(out.EventPattern)),
			RetentionDays: aws.ToInt32(out.RetentionDays),
			State:         string(out.State),
			Encrypted:     aws.ToString(out.KmsKeyIdentifier) != "",
			KMSKey:        aws.ToString(out.KmsKeyIdentifier),
		}
	}
	return nil
}

func readQueues(ctx context.Context, sn *snapshot) error {
	var urls []string
	p := sqs.NewListQueuesPaginator(sn.sqs, &sqs.ListQueuesInput{QueueNamePrefix: &sn.s.Prefix})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list queues: %w", err)
		}
		for _, u := range out.QueueUrls {
			if sn.n.owns(path.Base(u)) {
				urls = append(urls, u)
			}
		}
	}
	queues := map[string]Queue{}
	var mu sync.Mutex
	err := forEach(urls, func(url string) error {
		name := path.Base(url)
		out, err := sn.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []qtypes.QueueAttributeName{qtypes.QueueAttributeNameAll}})
		if err != nil {
			return fmt.Errorf("queue %s: %w", name, err)
		}
		q, err := queueState(out.Attributes)
		if err != nil {
			return fmt.Errorf("queue %s: %w", name, err)
		}
		if tags, err := sn.sqs.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: &url}); err == nil {
			q.Tags = tags.Tags
		}
		mu.Lock()
		queues[name] = q
		mu.Unlock()
		return nil
	})
	sn.s.Queues = queues
	return err
}

// queueState is what Snapshot records of a queue's attributes.
func queueState(a map[string]string) (Queue, error) {
	q := Queue{
		VisibilityTimeout:    a["VisibilityTimeout"],
		MessageRetention:     a["MessageRetentionPeriod"],
		MaximumMessageSize:   a["MaximumMessageSize"],
		DelaySeconds:         a["DelaySeconds"],
		ReceiveWaitTime:      a["ReceiveMessageWaitTimeSeconds"],
		SQSManagedEncryption: a["SqsManagedSseEnabled"],
		KMSKey:               a["KmsMasterKeyId"],
		KMSReuseSeconds:      a["KmsDataKeyReusePeriodSeconds"],
		FIFO:                 a["FifoQueue"],
		ContentDeduplication: a["ContentBasedDeduplication"],
		DeduplicationScope:   a["DeduplicationScope"],
		ThroughputLimit:      a["FifoThroughputLimit"],
		RedriveAllowPolicy:   canonicalJSON(a["RedriveAllowPolicy"]),
		Policy:               Policy{Statements: map[string]string{}},
	}
	if r := a["RedrivePolicy"]; r != "" {
		// maxReceiveCount has come back as a number and as a string.
		var redrive struct {
			Target string          `json:"deadLetterTargetArn"`
			Count  json.RawMessage `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(r), &redrive); err != nil {
			return Queue{}, fmt.Errorf("redrive policy: %w", err)
		}
		q.RedriveTarget = redrive.Target
		q.MaxReceiveCount = string(redrive.Count)
		if s, err := strconv.Unquote(q.MaxReceiveCount); err == nil {
			q.MaxReceiveCount = s
		}
	}
	if doc := a["Policy"]; doc != "" {
		var err error
		if q.Policy, err = parsePolicy(doc); err != nil {
			return Queue{}, fmt.Errorf("policy: %w", err)
		}
	}
	return q, nil
}

// readMappings reads the event source mappings of the stack's functions
// (Snapshot has read the functions by then).
func readMappings(ctx context.Context, sn *snapshot) error {
	sn.s.Mappings = map[string]Mapping{}
	names := make([]string, 0, len(sn.s.Functions))
	for name := range sn.s.Functions {
		names = append(names, name)
	}
	slices.Sort(names)
	var mu sync.Mutex
	return forEach(names, func(fn string) error {
		p := lambda.NewListEventSourceMappingsPaginator(sn.lambda, &lambda.ListEventSourceMappingsInput{FunctionName: &fn})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("function %s: list event source mappings: %w", fn, err)
			}
			for _, m := range out.EventSourceMappings {
				ms := mappingState(m)
				mu.Lock()
				key := fn + " <- " + sourceName(ms.Source)
				for i := 2; ; i++ {
					if _, dup := sn.s.Mappings[key]; !dup {
						break
					}
					key = fmt.Sprintf("%s <- %s (%d)", fn, sourceName(ms.Source), i)
				}
				sn.s.Mappings[key] = ms
				mu.Unlock()
			}
		}
		return nil
	})
}

// sourceName is the resource part of an event source's ARN: a queue's
// name, a table stream's table/<name>/stream.
func sourceName(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	res := parts[len(parts)-1]
	if i := strings.Index(res, "/stream/"); i >= 0 {
		res = res[:i+len("/stream")]
	}
	return res
}

func mappingState(m ltypes.EventSourceMappingConfiguration) Mapping {
	out := Mapping{
		Source:             streamLabelRE.ReplaceAllString(aws.ToString(m.EventSourceArn), "${1}"+StreamToken),
		State:              aws.ToString(m.State),
		BatchSize:          aws.ToInt32(m.BatchSize),
		BatchingWindowSecs: aws.ToInt32(m.MaximumBatchingWindowInSeconds),
		StartingPosition:   string(m.StartingPosition),
	}
	if m.FilterCriteria != nil {
		for _, f := range m.FilterCriteria.Filters {
			out.Filters = append(out.Filters, canonicalJSON(aws.ToString(f.Pattern)))
		}
		slices.Sort(out.Filters)
	}
	for _, t := range m.FunctionResponseTypes {
		out.ResponseTypes = append(out.ResponseTypes, string(t))
	}
	slices.Sort(out.ResponseTypes)
	if m.ScalingConfig != nil && m.ScalingConfig.MaximumConcurrency != nil {
		out.MaximumConcurrency = strconv.Itoa(int(*m.ScalingConfig.MaximumConcurrency))
	}
	optional := func(v *int32) string {
		if v == nil {
			return ""
		}
		return strconv.Itoa(int(*v))
	}
	if m.BisectBatchOnFunctionError != nil {
		out.BisectOnError = strconv.FormatBool(*m.BisectBatchOnFunctionError)
	}
	out.MaximumRetryAttempts = optional(m.MaximumRetryAttempts)
	out.MaximumRecordAgeSecs = optional(m.MaximumRecordAgeInSeconds)
	out.ParallelizationFactor = optional(m.ParallelizationFactor)
	out.TumblingWindowSecs = optional(m.TumblingWindowInSeconds)
	if d := m.DestinationConfig; d != nil && d.OnFailure != nil {
		out.OnFailure = aws.ToString(d.OnFailure.Destination)
	}
	return out
}

// jsonOf is v as canonical JSON.
func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return canonicalJSON(string(b))
}
