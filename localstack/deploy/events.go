package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	etypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/deployment"
)

// ensureEventBus makes the model's bus and its archive, or brings their
// descriptions and the archive's retention in line; nothing without a bus
// in the model (prune removes one the model no longer has).
func (d *deployer) ensureEventBus(ctx context.Context) error {
	bus := d.model.EventBus
	if bus == nil {
		return nil
	}
	status := statusUnchanged
	got, err := d.events.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: &bus.Name})
	switch {
	case awserr.HasCode(err, "ResourceNotFoundException"):
		_, err := d.events.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: &bus.Name, Description: &bus.Description})
		// Already exists: our own create, retried after a lost response
		// (retried.go).
		if err != nil && !awserr.HasCode(err, "ResourceAlreadyExistsException") {
			return fmt.Errorf("event bus %s: create: %w", bus.Name, err)
		}
		status = statusCreated
	case err != nil:
		return fmt.Errorf("event bus %s: describe: %w", bus.Name, err)
	default:
		if arn := aws.ToString(got.Arn); arn != bus.ARN {
			return fmt.Errorf("event bus %s: the emulator calls it %s, the model %s", bus.Name, arn, bus.ARN)
		}
		if aws.ToString(got.Description) != bus.Description {
			if _, err := d.events.UpdateEventBus(ctx, &eventbridge.UpdateEventBusInput{Name: &bus.Name, Description: &bus.Description}); err != nil {
				return fmt.Errorf("event bus %s: update description: %w", bus.Name, err)
			}
			status = statusUpdated
		}
	}
	d.p.report("event bus", bus.Name, status)
	return d.ensureArchive(ctx, bus)
}

// ensureArchive makes the bus's archive: every event (no pattern), kept
// the model's retention.
func (d *deployer) ensureArchive(ctx context.Context, bus *deployment.EventBus) error {
	a := bus.Archive
	retention := int32(a.RetentionDays)
	status := statusUnchanged
	got, err := d.events.DescribeArchive(ctx, &eventbridge.DescribeArchiveInput{ArchiveName: &a.Name})
	switch {
	case awserr.HasCode(err, "ResourceNotFoundException"):
		_, err := d.events.CreateArchive(ctx, &eventbridge.CreateArchiveInput{
			ArchiveName:    &a.Name,
			EventSourceArn: &bus.ARN,
			Description:    &a.Description,
			RetentionDays:  &retention,
		})
		// Already exists: our own create, retried after a lost response.
		if err != nil && !awserr.HasCode(err, "ResourceAlreadyExistsException") {
			return fmt.Errorf("archive %s: create: %w", a.Name, err)
		}
		status = statusCreated
	case err != nil:
		return fmt.Errorf("archive %s: describe: %w", a.Name, err)
	default:
		// An archive cannot move to another bus: one of our name on
		// another is not the model's, and replacing it would lose its
		// events.
		if src := aws.ToString(got.EventSourceArn); src != bus.ARN {
			return fmt.Errorf("archive %s: archives %s, the model wants %s; delete it yourself (its events go with it)", a.Name, src, bus.ARN)
		}
		if aws.ToString(got.Description) != a.Description || aws.ToInt32(got.RetentionDays) != retention || aws.ToString(got.EventPattern) != "" {
			_, err := d.events.UpdateArchive(ctx, &eventbridge.UpdateArchiveInput{
				ArchiveName:   &a.Name,
				Description:   &a.Description,
				RetentionDays: &retention,
				// "" clears a pattern: the archive keeps every event.
				EventPattern: aws.String(""),
			})
			if err != nil {
				return fmt.Errorf("archive %s: update: %w", a.Name, err)
			}
			status = statusUpdated
		}
	}
	d.p.report("archive", a.Name, status)
	return nil
}

// ensureRules makes each consumer's rule on the bus, with its pattern,
// description and one target, its queue; a target of another id goes.
// After the queues (a target names one) and the functions.
func (d *deployer) ensureRules(ctx context.Context) error {
	for i := range d.model.Functions {
		fn := &d.model.Functions[i]
		if fn.Consumer == nil {
			continue
		}
		if err := d.ensureRule(ctx, fn.Consumer); err != nil {
			return err
		}
	}
	return nil
}

func (d *deployer) ensureRule(ctx context.Context, c *deployment.Consumer) error {
	bus := d.model.EventBus.Name
	r := c.Rule
	status := statusUnchanged
	got, err := d.events.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: &r.Name, EventBusName: &bus})
	switch {
	case awserr.HasCode(err, "ResourceNotFoundException"):
		status = statusCreated
	case err != nil:
		return fmt.Errorf("rule %s: describe: %w", r.Name, err)
	case !sameJSON(aws.ToString(got.EventPattern), r.EventPattern) || aws.ToString(got.Description) != r.Description ||
		got.State != etypes.RuleStateEnabled || aws.ToString(got.ScheduleExpression) != "":
		status = statusUpdated
	}
	if status != statusUnchanged {
		// PutRule creates or replaces: safe to retry.
		_, err := d.events.PutRule(ctx, &eventbridge.PutRuleInput{
			Name:         &r.Name,
			EventBusName: &bus,
			EventPattern: &r.EventPattern,
			Description:  &r.Description,
			State:        etypes.RuleStateEnabled,
		})
		if err != nil {
			return fmt.Errorf("rule %s: put: %w", r.Name, err)
		}
	}
	targets, err := d.ruleTargets(ctx, bus, r.Name)
	if err != nil {
		return err
	}
	var stale []string
	have := false
	for _, t := range targets {
		switch {
		case aws.ToString(t.Id) != r.TargetID:
			stale = append(stale, aws.ToString(t.Id))
		case sameTarget(t, c.Queue.ARN):
			have = true
		}
	}
	if len(stale) > 0 {
		if err := d.removeTargets(ctx, bus, r.Name, stale); err != nil {
			return err
		}
	}
	if !have {
		// PutTargets replaces a target of the same id: safe to retry.
		out, err := d.events.PutTargets(ctx, &eventbridge.PutTargetsInput{
			Rule:         &r.Name,
			EventBusName: &bus,
			Targets:      []etypes.Target{{Id: &r.TargetID, Arn: &c.Queue.ARN}},
		})
		if err == nil && out.FailedEntryCount > 0 {
			err = fmt.Errorf("%s: %s", aws.ToString(out.FailedEntries[0].ErrorCode), aws.ToString(out.FailedEntries[0].ErrorMessage))
		}
		if err != nil {
			return fmt.Errorf("rule %s: put target %s: %w", r.Name, r.TargetID, err)
		}
	}
	if status == statusUnchanged && (len(stale) > 0 || !have) {
		status = statusUpdated
	}
	d.p.report("rule", r.Name, status)
	return nil
}

// sameTarget reports whether t sends the event, as it is, to the queue
// arn: no input transformation, no message group, no role.
func sameTarget(t etypes.Target, arn string) bool {
	return aws.ToString(t.Arn) == arn && aws.ToString(t.Input) == "" && aws.ToString(t.InputPath) == "" &&
		t.InputTransformer == nil && t.SqsParameters == nil && aws.ToString(t.RoleArn) == ""
}

// ruleTargets lists the targets of rule on bus; none when the rule is
// gone.
func (d *deployer) ruleTargets(ctx context.Context, bus, rule string) ([]etypes.Target, error) {
	var out []etypes.Target
	// The EventBridge SDK has no paginators: follow NextToken.
	in := &eventbridge.ListTargetsByRuleInput{Rule: &rule, EventBusName: &bus}
	for {
		page, err := d.events.ListTargetsByRule(ctx, in)
		if awserr.HasCode(err, "ResourceNotFoundException") {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("rule %s: list targets: %w", rule, err)
		}
		out = append(out, page.Targets...)
		if aws.ToString(page.NextToken) == "" {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}

// removeTargets removes the targets ids of rule on bus.
func (d *deployer) removeTargets(ctx context.Context, bus, rule string, ids []string) error {
	out, err := d.events.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: &rule, EventBusName: &bus, Ids: ids})
	if err == nil && out.FailedEntryCount > 0 {
		err = fmt.Errorf("%s: %s", aws.ToString(out.FailedEntries[0].ErrorCode), aws.ToString(out.FailedEntries[0].ErrorMessage))
	}
	// Not found: our own removal, retried after a lost response.
	if err != nil && !awserr.HasCode(err, "ResourceNotFoundException") {
		return fmt.Errorf("rule %s: remove targets %s: %w", rule, strings.Join(ids, ", "), err)
	}
	return nil
}
