package deployment

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/shop-serverless/shop/shared/manifest"
	"github.com/shop-serverless/shop/shared/naming"
	"github.com/shop-serverless/shop/shared/outbox"
)

// EventBus is the stack's one EventBridge custom bus, with the archive
// that keeps every event on it for replay.
type EventBus struct {
	Name        string  `json:"name"`
	ARN         string  `json:"arn"`
	Description string  `json:"description"`
	Archive     Archive `json:"archive"`
}

// Archive keeps every event of the bus (no pattern) for RetentionDays, so
// a window of them can be replayed to the consumers, which deduplicate.
type Archive struct {
	Name          string `json:"name"`
	ARN           string `json:"arn"`
	Description   string `json:"description"`
	RetentionDays int    `json:"retentionDays"`
}

// ArchiveRetentionDays is how long the archive keeps events: long enough
// to replay last month's events to a consumer fixed since.
const ArchiveRetentionDays = 30

// Consumer is how an event consumer (kind event) gets its events: a rule
// on the bus sends the matching ones to the consumer's own queue, which
// moves a message that failed MaxReceiveCount times to its dead-letter
// queue, and an event source mapping feeds the queue to the function.
// EventBridge's own Lambda targets would retry a failing event only a
// while and then drop it (and the local emulator not at all); SQS keeps it.
type Consumer struct {
	Rule            Rule         `json:"rule"`
	Queue           Queue        `json:"queue"`
	DeadLetterQueue Queue        `json:"deadLetterQueue"`
	Mapping         QueueMapping `json:"mapping"`
}

// RuleTargetID is the id of a consumer rule's one target, its queue.
const RuleTargetID = "queue"

// Rule is an EventBridge rule on the stack's bus.
type Rule struct {
	Name        string `json:"name"`
	ARN         string `json:"arn"`
	Description string `json:"description"`
	// EventPattern is compact JSON with its keys sorted, so that two
	// equal patterns are equal strings.
	EventPattern string `json:"eventPattern"`
	TargetID     string `json:"targetId"`
}

// Queue is an SQS queue, encrypted with SQS-managed keys.
type Queue struct {
	Name                  string `json:"name"`
	ARN                   string `json:"arn"`
	VisibilityTimeoutSecs int    `json:"visibilityTimeout"`
	MessageRetentionSecs  int    `json:"messageRetention"`
	// MaxReceiveCount is how often a message is received before the queue
	// moves it to its DeadLetterQueue; 0 on a dead-letter queue, which
	// redrives nowhere.
	MaxReceiveCount int  `json:"maxReceiveCount,omitempty"`
	SSE             bool `json:"sse"`
	// Policy is the queue's resource policy; nil for none (a dead-letter
	// queue: SQS itself moves messages there, and a relay sends with its
	// role).
	Policy *Policy `json:"policy,omitempty"`
}

// QueueMapping is the event source mapping from a consumer's queue to the
// consumer.
type QueueMapping struct {
	BatchSize int `json:"batchSize"`
	// FunctionResponseTypes has ReportBatchItemFailures: the consumer
	// names the messages it failed, and only those come back.
	FunctionResponseTypes []string `json:"functionResponseTypes"`
	// MaximumConcurrency bounds the instances one consumer takes, so a
	// burst of events cannot take the account's concurrency from the API.
	MaximumConcurrency int `json:"maximumConcurrency"`
}

// Relay is how a service's outbox relay (kind stream) reads its table's
// stream: an event source mapping filtered to new outbox items.
type Relay struct {
	Table         string `json:"table"`
	FilterPattern string `json:"filterPattern"`
	BatchSize     int    `json:"batchSize"`
	// StartingPosition is TRIM_HORIZON: an outbox item written before the
	// mapping existed (the first deploy, a recreated relay) is still
	// published, where LATEST would lose it.
	StartingPosition string `json:"startingPosition"`
	// On AWS a failing batch is split to find the failing record, retried
	// MaximumRetryAttempts times within MaximumRecordAgeSecs, and then
	// sent to DeadLetterQueue (the on-failure destination), so one bad
	// record never stops the shard.
	BisectOnError        bool `json:"bisectOnError"`
	MaximumRetryAttempts int  `json:"maximumRetryAttempts"`
	MaximumRecordAgeSecs int  `json:"maximumRecordAge"`
	// DeadLetterQueue is the mapping's on-failure destination, and where
	// the relay itself parks a record it can never publish (the local
	// emulator has no on-failure destination).
	DeadLetterQueue Queue `json:"deadLetterQueue"`
}

// Bindings of event consumers and relays: the URLs of their queues, which
// exist only once the target has created them.
const (
	// BindingQueueURL is the URL of the function's Consumer.Queue.
	BindingQueueURL = "queueUrl"
	// BindingDeadLetterQueueURL is the URL of the function's
	// Relay.DeadLetterQueue.
	BindingDeadLetterQueueURL = "deadLetterQueueUrl"
)

// Settings of the queues and mappings.
const (
	// A consumer's queue hides a received message for six times the
	// function's timeout: AWS's advice for a queue behind a mapping, which
	// may hold a batch while it retries a throttled invoke.
	queueVisibilityPerTimeout = 6
	queueRetentionSecs        = 4 * 24 * 3600
	// QueueMaxReceiveCount: a message failing five times is poison, not
	// bad luck; it moves to the dead-letter queue and the rest go on.
	QueueMaxReceiveCount = 5
	// Dead-letter queues keep a message the longest SQS allows, for
	// someone to look into and redrive.
	deadLetterVisibilitySecs = 30
	deadLetterRetentionSecs  = 14 * 24 * 3600

	mappingBatchSize          = 10
	mappingMaximumConcurrency = 5

	relayStartingPosition     = "TRIM_HORIZON"
	relayMaximumRetryAttempts = 10
	relayMaximumRecordAgeSecs = 24 * 3600
)

// ReportBatchItemFailures is the response type of every queue mapping.
const ReportBatchItemFailures = "ReportBatchItemFailures"

// events adds to f what fn publishes and consumes: the bus's name for a
// publisher, the registered outside publishers for the ingest endpoint, a
// consumer's rule, queues and mapping, a relay's stream mapping, and the
// queue URLs they need as bindings.
func events(p Params, set *manifest.Set, fn *manifest.Function, f *Function) error {
	if fn.Permissions.PublishEvents {
		f.Environment[manifest.EnvEventBus] = naming.EventBus(p.Prefix)
	}
	if len(fn.Ingest) > 0 {
		publishers, err := compactJSON(fn.Ingest)
		if err != nil {
			return fmt.Errorf("deployment: %s/function.yaml: ingest: %w", fn.Dir, err)
		}
		f.Environment[manifest.EnvIngestPublishers] = publishers
	}
	switch fn.Kind {
	case manifest.KindEvent:
		c, err := consumer(p, set, fn)
		if err != nil {
			return err
		}
		f.Consumer = c
		f.bind(manifest.EnvQueueURL, BindingQueueURL)
	case manifest.KindStream:
		f.Relay = relay(p, fn)
		f.bind(manifest.EnvDeadLetterQueueURL, BindingDeadLetterQueueURL)
	}
	return nil
}

// bind names binding as the value of the variable env.
func (f *Function) bind(env, binding string) {
	if f.Bindings == nil {
		f.Bindings = map[string]string{}
	}
	f.Bindings[env] = binding
}

// eventBus models the bus and its archive; nil when no function publishes
// (no service publishes and nothing ingests), since nothing could reach it.
func eventBus(p Params, set *manifest.Set) *EventBus {
	if !slices.ContainsFunc(set.Functions(), func(fn *manifest.Function) bool { return fn.Permissions.PublishEvents }) {
		return nil
	}
	name := naming.EventBus(p.Prefix)
	return &EventBus{
		Name:        name,
		ARN:         eventBusARN(p),
		Description: "Events of " + name + ": every service's outbox relay and the ingest endpoint publish here, one rule per consumer reads.",
		Archive: Archive{
			Name:          name,
			ARN:           fmt.Sprintf("arn:%s:events:%s:%s:archive/%s", p.Partition, p.Region, p.Account, name),
			Description:   "Every event of " + name + ", for replay to the consumers.",
			RetentionDays: ArchiveRetentionDays,
		},
	}
}

// consumer models how the event consumer fn gets its events.
func consumer(p Params, set *manifest.Set, fn *manifest.Function) (*Consumer, error) {
	pattern, err := EventPattern(set, fn.Events)
	if err != nil {
		return nil, fmt.Errorf("deployment: %s/function.yaml: events: %w", fn.Dir, err)
	}
	rule := ruleARN(p, fn.Name)
	queue := queueARN(p, naming.Queue(p.Prefix, fn.Name))
	return &Consumer{
		Rule: Rule{
			Name:         naming.Rule(p.Prefix, fn.Name),
			ARN:          rule,
			Description:  "Sends " + naming.Function(p.Prefix, fn.Name) + " its events, through its queue.",
			EventPattern: pattern,
			TargetID:     RuleTargetID,
		},
		Queue: Queue{
			Name:                  naming.Queue(p.Prefix, fn.Name),
			ARN:                   queue,
			VisibilityTimeoutSecs: queueVisibilityPerTimeout * fn.TimeoutSecs,
			MessageRetentionSecs:  queueRetentionSecs,
			MaxReceiveCount:       QueueMaxReceiveCount,
			SSE:                   true,
			Policy:                queuePolicy(queue, rule),
		},
		DeadLetterQueue: deadLetterQueue(p, fn.Name),
		Mapping: QueueMapping{
			BatchSize:             mappingBatchSize,
			FunctionResponseTypes: []string{ReportBatchItemFailures},
			MaximumConcurrency:    mappingMaximumConcurrency,
		},
	}, nil
}

// relay models how the relay fn reads its service's table stream.
func relay(p Params, fn *manifest.Function) *Relay {
	return &Relay{
		Table:                naming.Table(p.Prefix, fn.Service),
		FilterPattern:        outbox.FilterPattern,
		BatchSize:            mappingBatchSize,
		StartingPosition:     relayStartingPosition,
		BisectOnError:        true,
		MaximumRetryAttempts: relayMaximumRetryAttempts,
		MaximumRecordAgeSecs: relayMaximumRecordAgeSecs,
		DeadLetterQueue:      deadLetterQueue(p, fn.Name),
	}
}

func deadLetterQueue(p Params, fn string) Queue {
	name := naming.DeadLetterQueue(p.Prefix, fn)
	return Queue{
		Name:                  name,
		ARN:                   queueARN(p, name),
		VisibilityTimeoutSecs: deadLetterVisibilitySecs,
		MessageRetentionSecs:  deadLetterRetentionSecs,
		SSE:                   true,
	}
}

// queuePolicy lets EventBridge send to the queue on behalf of the one rule
// that targets it, and of no other rule (of any account).
func queuePolicy(queue, rule string) *Policy {
	return &Policy{Version: policyVersion, Statement: []Statement{{
		Sid:       "FromOwnRule",
		Effect:    "Allow",
		Principal: map[string]string{"Service": "events.amazonaws.com"},
		Action:    []string{"sqs:SendMessage"},
		Resource:  []string{queue},
		Condition: map[string]map[string][]string{"ArnEquals": {"aws:SourceArn": {rule}}},
	}}}
}

// EventPattern is the EventBridge pattern of a consumer's rule: the
// trigger's types as detail-type, their producers' sources as source (so
// an outside system cannot pass for a service by naming its type), and the
// trigger's further fields. Compact JSON, keys sorted at every level.
func EventPattern(set *manifest.Set, trigger *manifest.EventTrigger) (string, error) {
	pattern := maps.Clone(trigger.Pattern)
	if pattern == nil {
		pattern = map[string]any{}
	}
	var sources []string
	for _, t := range trigger.Types {
		prod, ok := set.Producer(t)
		if !ok {
			return "", fmt.Errorf("nothing publishes %s", t)
		}
		sources = append(sources, prod.Source)
	}
	slices.Sort(sources)
	pattern["source"] = slices.Compact(sources)
	pattern["detail-type"] = slices.Sorted(slices.Values(trigger.Types))
	return compactJSON(pattern)
}

// compactJSON marshals v without HTML escaping (a numeric pattern's ">"
// stays ">", as Terraform and the console show it); encoding/json sorts
// map keys.
func compactJSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

func eventBusARN(p Params) string {
	return fmt.Sprintf("arn:%s:events:%s:%s:event-bus/%s", p.Partition, p.Region, p.Account, naming.EventBus(p.Prefix))
}

func ruleARN(p Params, fn string) string {
	return fmt.Sprintf("arn:%s:events:%s:%s:rule/%s/%s", p.Partition, p.Region, p.Account, naming.EventBus(p.Prefix), naming.Rule(p.Prefix, fn))
}

func queueARN(p Params, name string) string {
	return fmt.Sprintf("arn:%s:sqs:%s:%s:%s", p.Partition, p.Region, p.Account, name)
}
