package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/shop-serverless/shop/shared/awserr"
)

// ensureLogGroup makes a function's log group with the retention the
// model sets, before the function exists: the function's policy grants
// writing to its group, not creating it, so without this its first
// invocation's logs would have nowhere to go on AWS.
func (d *deployer) ensureLogGroup(ctx context.Context, group string, retentionDays int32) error {
	have, found, err := d.logGroupRetention(ctx, group)
	if err != nil {
		return err
	}
	status := statusUnchanged
	if !found {
		// Already exists: our own create, retried after a lost response
		// (retried.go), or the emulator made it for an earlier invocation.
		if _, err := d.logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: &group}); err != nil && !awserr.HasCode(err, "ResourceAlreadyExistsException") {
			return fmt.Errorf("log group %s: create: %w", group, err)
		}
		status = statusCreated
	}
	if have != retentionDays {
		_, err := d.logs.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: &group, RetentionInDays: &retentionDays})
		if err != nil {
			return fmt.Errorf("log group %s: set retention to %d days: %w", group, retentionDays, err)
		}
		if status == statusUnchanged {
			status = statusUpdated
		}
	}
	d.p.report("log group", group, status)
	return nil
}

// logGroupRetention reports whether the log group exists and its retention
// in days (0: kept forever).
func (d *deployer) logGroupRetention(ctx context.Context, group string) (int32, bool, error) {
	pages := cloudwatchlogs.NewDescribeLogGroupsPaginator(d.logs, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: &group})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return 0, false, fmt.Errorf("log group %s: describe: %w", group, err)
		}
		for _, g := range page.LogGroups {
			if aws.ToString(g.LogGroupName) == group {
				return aws.ToInt32(g.RetentionInDays), true, nil
			}
		}
	}
	return 0, false, nil
}
