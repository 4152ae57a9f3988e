package main

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/naming"
)

// scanEvents adds to scan the stack's bus, archive and the rules on the
// bus, the queues named <prefix>-..., and every event source mapping.
func (d *deployer) scanEvents(ctx context.Context, scan *pruneScan) error {
	prefix := d.model.Prefix
	bus := naming.EventBus(prefix)
	_, err := d.events.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: &bus})
	switch {
	case awserr.HasCode(err, "ResourceNotFoundException"):
	case err != nil:
		return fmt.Errorf("prune: describe event bus %s: %w", bus, err)
	default:
		scan.bus = true
	}
	_, err = d.events.DescribeArchive(ctx, &eventbridge.DescribeArchiveInput{ArchiveName: &bus})
	switch {
	case awserr.HasCode(err, "ResourceNotFoundException"):
	case err != nil:
		return fmt.Errorf("prune: describe archive %s: %w", bus, err)
	default:
		scan.archive = true
	}
	if scan.bus {
		// The EventBridge SDK has no paginators: follow NextToken.
		in := &eventbridge.ListRulesInput{EventBusName: &bus}
		for {
			page, err := d.events.ListRules(ctx, in)
			if err != nil {
				return fmt.Errorf("prune: list rules of %s: %w", bus, err)
			}
			for _, r := range page.Rules {
				scan.rules = append(scan.rules, aws.ToString(r.Name))
			}
			if aws.ToString(page.NextToken) == "" {
				break
			}
			in.NextToken = page.NextToken
		}
	}
	queues := sqs.NewListQueuesPaginator(d.sqs, &sqs.ListQueuesInput{QueueNamePrefix: aws.String(prefix + "-")})
	for queues.HasMorePages() {
		page, err := queues.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("prune: list queues: %w", err)
		}
		for _, url := range page.QueueUrls {
			scan.queues = append(scan.queues, path.Base(url))
		}
	}
	mappings := lambda.NewListEventSourceMappingsPaginator(d.lambda, &lambda.ListEventSourceMappingsInput{})
	for mappings.HasMorePages() {
		page, err := mappings.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("prune: list event source mappings: %w", err)
		}
		for _, m := range page.EventSourceMappings {
			if aws.ToString(m.State) == "Deleting" {
				continue
			}
			scan.mappings = append(scan.mappings, liveMapping{
				uuid:     aws.ToString(m.UUID),
				function: functionNameOf(aws.ToString(m.FunctionArn)),
				source:   aws.ToString(m.EventSourceArn),
			})
		}
	}
	return nil
}

// functionNameOf is the function's name in its ARN
// (arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]).
func functionNameOf(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) < 7 {
		return arn
	}
	return parts[6]
}

// lambdaMapping is m as deleteMapping takes it.
func lambdaMapping(m liveMapping) ltypes.EventSourceMappingConfiguration {
	return ltypes.EventSourceMappingConfiguration{UUID: &m.uuid, EventSourceArn: &m.source}
}

// pruneRule deletes the rule name on bus after its targets (AWS refuses to
// delete a rule with targets).
func (d *deployer) pruneRule(ctx context.Context, bus, name string) error {
	targets, err := d.ruleTargets(ctx, bus, name)
	if err != nil {
		return err
	}
	if len(targets) > 0 {
		ids := make([]string, 0, len(targets))
		for _, t := range targets {
			ids = append(ids, aws.ToString(t.Id))
		}
		if err := d.removeTargets(ctx, bus, name, ids); err != nil {
			return err
		}
	}
	// Not found: our own delete, retried after a lost response (retried.go).
	if _, err := d.events.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: &name, EventBusName: &bus}); err != nil && !awserr.HasCode(err, "ResourceNotFoundException") {
		return fmt.Errorf("rule %s: delete: %w", name, err)
	}
	d.p.report("rule", name, statusDeleted)
	return nil
}

// deleteQueue deletes the queue name, with the messages in it.
func (d *deployer) deleteQueue(ctx context.Context, name string) error {
	url, err := d.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &name})
	if awserr.HasCode(err, queueNotFound...) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("queue %s: get url: %w", name, err)
	}
	// Not found: our own delete, retried after a lost response.
	if _, err := d.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: url.QueueUrl}); err != nil && !awserr.HasCode(err, queueNotFound...) {
		return fmt.Errorf("queue %s: delete: %w", name, err)
	}
	d.p.report("queue", name, statusDeleted)
	return nil
}

// deleteEventBus deletes the archive of the bus name, then the bus; either
// may be gone already (a prune cut short).
func (d *deployer) deleteEventBus(ctx context.Context, name string, archive, bus bool) error {
	if archive {
		// Not found: our own delete, retried after a lost response.
		if _, err := d.events.DeleteArchive(ctx, &eventbridge.DeleteArchiveInput{ArchiveName: &name}); err != nil && !awserr.HasCode(err, "ResourceNotFoundException") {
			return fmt.Errorf("archive %s: delete: %w", name, err)
		}
		d.p.report("archive", name, statusDeleted)
	}
	if bus {
		if _, err := d.events.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: &name}); err != nil && !awserr.HasCode(err, "ResourceNotFoundException") {
			return fmt.Errorf("event bus %s: delete: %w", name, err)
		}
		d.p.report("event bus", name, statusDeleted)
	}
	return nil
}
