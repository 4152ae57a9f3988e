package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/deployment"
)

// Alarms the live test leaves before a deploy: one of this stack the
// model does not have (pruned), one of the nested stack (kept), one named
// as this stack's but untagged (kept: not provably the deployer's).
var (
	goneAlarm     = testPrefix + "-gone-throttles"
	nestedAlarm   = nestedPrefix + "-x-throttles"
	untaggedAlarm = testPrefix + "-hand-made"
)

// oldAlarms changes the model's first alarm and adds alarms the model
// does not have, returning the lines the next deploy must report.
func oldAlarms(t *testing.T, c clients, model *deployment.Deployment) []string {
	t.Helper()
	ctx := t.Context()
	put := func(name, prefix string) {
		in := &cloudwatch.PutMetricAlarmInput{
			AlarmName: aws.String(name), Namespace: aws.String("AWS/Lambda"), MetricName: aws.String("Throttles"),
			Statistic: cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(0),
			ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
		}
		if prefix != "" {
			in.Tags = []cwtypes.Tag{{Key: aws.String(prefixTag), Value: aws.String(prefix)}}
		}
		if _, err := c.cw.PutMetricAlarm(ctx, in); err != nil {
			t.Fatalf("alarm %s: %v", name, err)
		}
	}
	put(goneAlarm, testPrefix)
	put(nestedAlarm, nestedPrefix)
	put(untaggedAlarm, "")
	t.Cleanup(func() {
		c.cw.DeleteAlarms(t.Context(), &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{nestedAlarm, untaggedAlarm}})
	})

	first := model.Observability.Alarms[0]
	got, err := c.cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{first.Name}})
	if err != nil || len(got.MetricAlarms) != 1 {
		t.Fatalf("alarm %s: %v %v", first.Name, got, err)
	}
	changed := alarmInput(first, model.Observability, "x", testPrefix)
	changed.AlarmDescription = aws.String("an older description")
	if _, err := c.cw.PutMetricAlarm(ctx, changed); err != nil {
		t.Fatal(err)
	}
	return []string{
		progressLine("alarm", goneAlarm, statusDeleted),
		progressLine("alarm", first.Name, statusUpdated),
	}
}

// checkObservability: the topic, every alarm of the model as the model
// says (description, metric, dimensions with the API's id, actions to the
// topic, missing data not breaching), the alarms left before the deploy
// pruned or kept as they should be, and the dashboard with the API's id.
func checkObservability(t *testing.T, c clients, model *deployment.Deployment, apiID string) {
	t.Helper()
	ctx := t.Context()
	o := model.Observability
	if _, err := c.sns.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: &o.Topic.ARN}); err != nil {
		t.Errorf("topic %s: %v", o.Topic.ARN, err)
	}
	live := map[string]cwtypes.MetricAlarm{}
	for p := cloudwatch.NewDescribeAlarmsPaginator(c.cw, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String(testPrefix)}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.MetricAlarms {
			live[aws.ToString(a.AlarmName)] = a
		}
	}
	for _, a := range o.Alarms {
		got, ok := live[a.Name]
		if !ok {
			t.Errorf("alarm %s: missing", a.Name)
			continue
		}
		if want := alarmInput(a, o, apiID, testPrefix); !alarmMatches(want, got) {
			t.Errorf("alarm %s: %+v, want the model's %+v", a.Name, got, want)
		}
		if !slices.Equal(got.AlarmActions, []string{o.Topic.ARN}) || aws.ToString(got.TreatMissingData) != "notBreaching" {
			t.Errorf("alarm %s: actions %v, missing data %q", a.Name, got.AlarmActions, aws.ToString(got.TreatMissingData))
		}
		for _, d := range got.Dimensions {
			if strings.Contains(aws.ToString(d.Value), o.APIIDPlaceholder) {
				t.Errorf("alarm %s: dimension %s still holds the placeholder", a.Name, aws.ToString(d.Name))
			}
		}
	}
	if _, ok := live[goneAlarm]; ok {
		t.Errorf("alarm %s of this stack, not in the model: not pruned", goneAlarm)
	}
	if _, ok := live[untaggedAlarm]; !ok {
		t.Errorf("alarm %s, untagged: pruned, want it left alone", untaggedAlarm)
	}
	if got, err := c.cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{nestedAlarm}}); err != nil || len(got.MetricAlarms) != 1 {
		t.Errorf("alarm %s of the stack %s: %v %v, want it left alone", nestedAlarm, nestedPrefix, got, err)
	}
	dash, err := c.cw.GetDashboard(ctx, &cloudwatch.GetDashboardInput{DashboardName: &o.Dashboard.Name})
	switch {
	case awserr.HasCode(err, "ResourceNotFound"):
		t.Errorf("dashboard %s: missing", o.Dashboard.Name)
	case err != nil:
		t.Errorf("dashboard %s: %v", o.Dashboard.Name, err)
	case !sameJSON(aws.ToString(dash.DashboardBody), strings.ReplaceAll(o.Dashboard.Body, o.APIIDPlaceholder, apiID)):
		t.Errorf("dashboard %s: body is not the model's with the API id %s", o.Dashboard.Name, apiID)
	}
}
