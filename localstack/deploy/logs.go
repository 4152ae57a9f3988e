package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	lgtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/shop-serverless/shop/shared/awserr"
)

// ensureLogGroup makes a log group with the retention the model sets and
// returns its ARN. A function's group is made before the function: its
// policy grants writing to its group, not creating it, so without this its
// first invocation's logs would have nowhere to go on AWS. The API's access
// log group is made before the stage that names it.
func (d *deployer) ensureLogGroup(ctx context.Context, group string, retentionDays int32) (string, error) {
	have, found, err := d.describeLogGroup(ctx, group)
	if err != nil {
		return "", err
	}
	status := statusUnchanged
	if !found {
		// Already exists: our own create, retried after a lost response
		// (retried.go), or the emulator made it for an earlier invocation.
		if _, err := d.logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: &group}); err != nil && !awserr.HasCode(err, "ResourceAlreadyExistsException") {
			return "", fmt.Errorf("log group %s: create: %w", group, err)
		}
		if have, found, err = d.describeLogGroup(ctx, group); err != nil {
			return "", err
		}
		if !found {
			return "", fmt.Errorf("log group %s: not there after its creation", group)
		}
		status = statusCreated
	}
	if aws.ToInt32(have.RetentionInDays) != retentionDays {
		_, err := d.logs.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: &group, RetentionInDays: &retentionDays})
		if err != nil {
			return "", fmt.Errorf("log group %s: set retention to %d days: %w", group, retentionDays, err)
		}
		if status == statusUnchanged {
			status = statusUpdated
		}
	}
	d.p.report("log group", group, status)
	return logGroupARN(have), nil
}

// describeLogGroup reports whether the log group exists, and how.
// RetentionInDays nil (or 0) means kept forever.
func (d *deployer) describeLogGroup(ctx context.Context, group string) (lgtypes.LogGroup, bool, error) {
	pages := cloudwatchlogs.NewDescribeLogGroupsPaginator(d.logs, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: &group})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return lgtypes.LogGroup{}, false, fmt.Errorf("log group %s: describe: %w", group, err)
		}
		for _, g := range page.LogGroups {
			if aws.ToString(g.LogGroupName) == group {
				return g, true, nil
			}
		}
	}
	return lgtypes.LogGroup{}, false, nil
}

// logGroupARN is the group's ARN as Terraform's aws_cloudwatch_log_group
// gives it (provider 5.x) and as API Gateway wants an access log
// destination: without the ":*" that CloudWatch Logs' Arn field ends in
// (its newer LogGroupArn field has none).
func logGroupARN(g lgtypes.LogGroup) string {
	if g.Arn == nil {
		return aws.ToString(g.LogGroupArn)
	}
	return strings.TrimSuffix(aws.ToString(g.Arn), ":*")
}
