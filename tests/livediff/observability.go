package livediff

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/shop-serverless/shop/shared/awserr"
)

// Topic is an SNS topic: its settings, not its subscribers (Terraform's
// come from a variable, the deployer makes none).
type Topic struct {
	DisplayName string `json:"displayName,omitempty" diff:"display name"`
	KMSKey      string `json:"kmsKey,omitempty" diff:"kms key"`
	FIFO        bool   `json:"fifo" diff:"fifo"`
}

// Dashboard is a CloudWatch dashboard: its body as canonical JSON (the API
// id in it becomes {api} once normalised).
type Dashboard struct {
	Body string `json:"body" diff:"body"`
}

// readObservability reads the stack's SNS topics and its dashboard (named
// the prefix itself, as the model names it). Alarms are not read: Terraform creates none on the
// emulator, which reads them back incomplete in the provider's protocol
// (infra/modules/observability), so they would differ by design; the
// deployer's live test checks the deployer's alarms against the model.
func readObservability(ctx context.Context, sn *snapshot) error {
	topics := map[string]Topic{}
	p := sns.NewListTopicsPaginator(sn.sns, &sns.ListTopicsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list topics: %w", err)
		}
		for _, t := range out.Topics {
			arn := aws.ToString(t.TopicArn)
			name := arn[strings.LastIndex(arn, ":")+1:]
			if !sn.n.owns(name) {
				continue
			}
			attrs, err := sn.sns.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: t.TopicArn})
			if err != nil {
				return fmt.Errorf("topic %s: %w", name, err)
			}
			a := attrs.Attributes
			topics[name] = Topic{DisplayName: a["DisplayName"], KMSKey: a["KmsMasterKeyId"], FIFO: a["FifoTopic"] == "true"}
		}
	}
	sn.s.Topics = topics

	// The dashboard is looked up by its name, the prefix, rather than
	// listed: MiniStack 1.5.33 answers ListDashboards in CBOR with a
	// timestamp the Go SDK cannot decode (localstack/README.md).
	dashboards := map[string]Dashboard{}
	got, err := sn.cw.GetDashboard(ctx, &cloudwatch.GetDashboardInput{DashboardName: aws.String(sn.s.Prefix)})
	switch {
	case awserr.HasCode(err, "ResourceNotFound", "ResourceNotFoundException"):
	case err != nil:
		return fmt.Errorf("dashboard %s: %w", sn.s.Prefix, err)
	default:
		dashboards[sn.s.Prefix] = Dashboard{Body: canonicalJSON(aws.ToString(got.DashboardBody))}
	}
	sn.s.Dashboards = dashboards
	return nil
}
