package livediff

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// readLogGroups reads every log group with a segment the stack owns:
// /aws/lambda/<prefix>-users-get, /aws/apigateway/<prefix>-api/access.
func readLogGroups(ctx context.Context, sn *snapshot) error {
	groups := map[string]LogGroup{}
	p := cloudwatchlogs.NewDescribeLogGroupsPaginator(sn.logs, &cloudwatchlogs.DescribeLogGroupsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list log groups: %w", err)
		}
		for _, g := range out.LogGroups {
			name := aws.ToString(g.LogGroupName)
			if !sn.n.ownsPath(name) {
				continue
			}
			groups[name] = LogGroup{
				RetentionDays: aws.ToInt32(g.RetentionInDays),
				Class:         string(g.LogGroupClass),
				Encrypted:     aws.ToString(g.KmsKeyId) != "",
				KMSKey:        aws.ToString(g.KmsKeyId),
			}
		}
	}
	sn.s.LogGroups = groups
	return nil
}
