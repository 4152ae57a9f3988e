package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	qtypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/deployment"
)

// Queue attributes the model decides.
const (
	attrVisibilityTimeout = "VisibilityTimeout"
	attrMessageRetention  = "MessageRetentionPeriod"
	attrMaximumSize       = "MaximumMessageSize"
	attrSSE               = "SqsManagedSseEnabled"
	attrRedrivePolicy     = "RedrivePolicy"
	attrPolicy            = "Policy"
	attrQueueARN          = "QueueArn"
)

// queueNotFound are the codes SQS answers for a queue that is not there:
// the JSON protocol's, and the query protocol's that AWS still sends.
var queueNotFound = []string{"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"}

// modelQueue is a queue of the model, with the dead-letter queue it
// redrives to (nil for none).
type modelQueue struct {
	deployment.Queue
	deadLetter *deployment.Queue
}

// modelQueues are the model's queues, each dead-letter queue before the
// queue that redrives to it (SQS wants the target of a redrive policy to
// exist).
func modelQueues(model *deployment.Deployment) []modelQueue {
	var out []modelQueue
	for i := range model.Functions {
		fn := &model.Functions[i]
		if c := fn.Consumer; c != nil {
			out = append(out, modelQueue{Queue: c.DeadLetterQueue}, modelQueue{Queue: c.Queue, deadLetter: &c.DeadLetterQueue})
		}
		if r := fn.Relay; r != nil {
			out = append(out, modelQueue{Queue: r.DeadLetterQueue})
		}
	}
	return out
}

// ensureQueues makes every queue of the model and records their URLs,
// which the functions' bindings need: before the functions.
func (d *deployer) ensureQueues(ctx context.Context) error {
	for _, q := range modelQueues(d.model) {
		if err := d.ensureQueue(ctx, q.Queue, q.deadLetter); err != nil {
			return err
		}
	}
	return nil
}

// queueAttributes are the attributes the model gives q, which redrives to
// dlq (nil for none). An empty value is an attribute q must not have
// (SetQueueAttributes removes it so).
func queueAttributes(q deployment.Queue, dlq *deployment.Queue) map[string]string {
	attrs := map[string]string{
		attrVisibilityTimeout: strconv.Itoa(q.VisibilityTimeoutSecs),
		attrMessageRetention:  strconv.Itoa(q.MessageRetentionSecs),
		attrMaximumSize:       strconv.Itoa(q.MaximumMessageSize),
		attrSSE:               strconv.FormatBool(q.SSE),
		attrRedrivePolicy:     "",
		attrPolicy:            "",
	}
	if dlq != nil && q.MaxReceiveCount > 0 {
		attrs[attrRedrivePolicy] = mustJSON(redrivePolicy{DeadLetterTargetARN: dlq.ARN, MaxReceiveCount: q.MaxReceiveCount})
	}
	if q.Policy != nil {
		attrs[attrPolicy] = mustJSON(q.Policy)
	}
	return attrs
}

// redrivePolicy is an SQS RedrivePolicy attribute.
type redrivePolicy struct {
	DeadLetterTargetARN string `json:"deadLetterTargetArn"`
	MaxReceiveCount     int    `json:"maxReceiveCount"`
}

// sameRedrive compares two RedrivePolicy attributes by meaning: SQS has
// given maxReceiveCount back as a number and as a string.
func sameRedrive(a, b string) bool {
	if a == "" || b == "" {
		return a == b
	}
	parse := func(s string) (redrivePolicy, bool) {
		var raw struct {
			DeadLetterTargetARN string          `json:"deadLetterTargetArn"`
			MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
		}
		if json.Unmarshal([]byte(s), &raw) != nil {
			return redrivePolicy{}, false
		}
		var n json.Number
		if json.Unmarshal(raw.MaxReceiveCount, &n) != nil {
			var s string
			if json.Unmarshal(raw.MaxReceiveCount, &s) != nil {
				return redrivePolicy{}, false
			}
			n = json.Number(s)
		}
		count, err := n.Int64()
		return redrivePolicy{DeadLetterTargetARN: raw.DeadLetterTargetARN, MaxReceiveCount: int(count)}, err == nil
	}
	pa, oka := parse(a)
	pb, okb := parse(b)
	return oka && okb && pa == pb
}

// queueDiff is the attributes of want that have differs in, with want's
// values: what SetQueueAttributes must send.
func queueDiff(want, have map[string]string) map[string]string {
	diff := map[string]string{}
	for k, w := range want {
		h := have[k]
		var same bool
		switch {
		case w == "" || h == "":
			same = w == h
		case k == attrPolicy:
			same = samePolicy(h, w)
		case k == attrRedrivePolicy:
			same = sameRedrive(h, w)
		default:
			same = h == w
		}
		if !same {
			diff[k] = w
		}
	}
	return diff
}

// ensureQueue creates q, or brings the attributes the model decides in
// line, and records its URL.
func (d *deployer) ensureQueue(ctx context.Context, q deployment.Queue, dlq *deployment.Queue) error {
	want := queueAttributes(q, dlq)
	status := statusUnchanged
	url, err := d.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &q.Name})
	switch {
	case awserr.HasCode(err, queueNotFound...):
		attrs := maps.Clone(want)
		maps.DeleteFunc(attrs, func(_, v string) bool { return v == "" })
		// CreateQueue with the attributes of an existing queue answers its
		// URL: our own create, retried after a lost response, is safe.
		out, err := d.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &q.Name, Attributes: attrs})
		if err != nil {
			return fmt.Errorf("queue %s: create: %w", q.Name, err)
		}
		d.bindings.queues[q.Name] = aws.ToString(out.QueueUrl)
		status = statusCreated
	case err != nil:
		return fmt.Errorf("queue %s: get url: %w", q.Name, err)
	default:
		d.bindings.queues[q.Name] = aws.ToString(url.QueueUrl)
		got, err := d.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl:       url.QueueUrl,
			AttributeNames: []qtypes.QueueAttributeName{qtypes.QueueAttributeNameAll},
		})
		if err != nil {
			return fmt.Errorf("queue %s: get attributes: %w", q.Name, err)
		}
		if arn := got.Attributes[attrQueueARN]; arn != q.ARN {
			return fmt.Errorf("queue %s: the emulator calls it %s, the model %s", q.Name, arn, q.ARN)
		}
		if diff := queueDiff(want, got.Attributes); len(diff) > 0 {
			if _, err := d.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: url.QueueUrl, Attributes: diff}); err != nil {
				return fmt.Errorf("queue %s: set %v: %w", q.Name, slices.Sorted(maps.Keys(diff)), err)
			}
			status = statusUpdated
		}
	}
	d.p.report("queue", q.Name, status)
	return nil
}
