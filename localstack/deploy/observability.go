package main

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/shop-serverless/shop/shared/awserr"
	"github.com/shop-serverless/shop/shared/deployment"
)

// prefixTag marks what the deployer makes that has no other sign of its
// stack: an alarm carries it, with the stack's prefix (the key Terraform's
// default_tags use), so pruning never takes a nested stack's alarms
// (<prefix>-b-...).
const prefixTag = "prefix"

// statusNoXRay reports a sampling rule the deployer cannot make: the
// emulator has no X-Ray API. Every deploy says so; nothing else changes.
const statusNoXRay = "skipped: the emulator has no X-Ray API (Terraform creates it)"

// ensureObservability makes the model's alarms topic, alarms and dashboard
// (the emulator has no X-Ray API: the sampling rules are Terraform's only,
// and said so), and deletes the alarms of this stack the model no longer
// has. apiID replaces the model's placeholder for the API's id.
func (d *deployer) ensureObservability(ctx context.Context, apiID string) error {
	o := d.model.Observability
	if err := d.ensureTopic(ctx, o.Topic); err != nil {
		return err
	}
	live, err := d.stackAlarms(ctx)
	if err != nil {
		return err
	}
	for _, a := range o.Alarms {
		want := alarmInput(a, o, apiID, d.model.Prefix)
		status := statusCreated
		if got, ok := live[a.Name]; ok {
			if alarmMatches(want, got) {
				status = statusUnchanged
			} else {
				status = statusUpdated
			}
		}
		if status != statusUnchanged {
			// PutMetricAlarm creates or replaces: its retry after a lost
			// response puts the same alarm again.
			if _, err := d.cw.PutMetricAlarm(ctx, want); err != nil {
				return fmt.Errorf("alarm %s: %w", a.Name, err)
			}
		}
		d.p.report("alarm", a.Name, status)
	}
	if err := d.pruneAlarms(ctx, live); err != nil {
		return err
	}
	if err := d.ensureDashboard(ctx, o, apiID); err != nil {
		return err
	}
	for _, r := range o.SamplingRules {
		d.p.report("sampling", r.Name, statusNoXRay)
	}
	return nil
}

// ensureTopic makes the alarms' topic. CreateTopic returns the existing
// topic of that name, so its retry is harmless; asking first tells created
// from unchanged.
func (d *deployer) ensureTopic(ctx context.Context, t deployment.Topic) error {
	status := statusUnchanged
	_, err := d.sns.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: &t.ARN})
	switch {
	case awserr.HasCode(err, "NotFound", "NotFoundException"):
		got, err := d.sns.CreateTopic(ctx, &sns.CreateTopicInput{Name: &t.Name})
		if err != nil {
			return fmt.Errorf("topic %s: create: %w", t.Name, err)
		}
		if arn := aws.ToString(got.TopicArn); arn != t.ARN {
			return fmt.Errorf("topic %s: the emulator calls it %s, the model %s", t.Name, arn, t.ARN)
		}
		status = statusCreated
	case err != nil:
		return fmt.Errorf("topic %s: %w", t.Name, err)
	}
	d.p.report("topic", t.Name, status)
	return nil
}

// stackAlarms are the metric alarms named <prefix>-..., by name; whose
// they are is for pruneAlarms to tell.
func (d *deployer) stackAlarms(ctx context.Context) (map[string]cwtypes.MetricAlarm, error) {
	out := map[string]cwtypes.MetricAlarm{}
	for p := cloudwatch.NewDescribeAlarmsPaginator(d.cw, &cloudwatch.DescribeAlarmsInput{
		AlarmNamePrefix: aws.String(d.model.Prefix + "-"),
		AlarmTypes:      []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm},
	}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("alarms: describe: %w", err)
		}
		for _, a := range page.MetricAlarms {
			out[aws.ToString(a.AlarmName)] = a
		}
	}
	return out, nil
}

// pruneAlarms deletes the alarms of live the model does not have that are
// this stack's: tagged with its prefix. Another stack's (<prefix>-b-...)
// carry their own prefix, and an alarm with no tag is nobody's the
// deployer can prove: both stay.
func (d *deployer) pruneAlarms(ctx context.Context, live map[string]cwtypes.MetricAlarm) error {
	model := map[string]bool{}
	for _, a := range d.model.Observability.Alarms {
		model[a.Name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(live)) {
		if model[name] {
			continue
		}
		tags, err := d.cw.ListTagsForResource(ctx, &cloudwatch.ListTagsForResourceInput{ResourceARN: live[name].AlarmArn})
		if err != nil {
			return fmt.Errorf("alarm %s: tags: %w", name, err)
		}
		if !slices.ContainsFunc(tags.Tags, func(t cwtypes.Tag) bool {
			return aws.ToString(t.Key) == prefixTag && aws.ToString(t.Value) == d.model.Prefix
		}) {
			continue
		}
		// Deleting an alarm that is gone already (our own delete, retried
		// after a lost response) is done.
		if _, err := d.cw.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{name}}); err != nil && !awserr.HasCode(err, "ResourceNotFound", "ResourceNotFoundException") {
			return fmt.Errorf("alarm %s: delete: %w", name, err)
		}
		d.p.report("alarm", name, statusDeleted)
	}
	return nil
}

// alarmInput is the model's alarm a, notifying the topic, with the API's
// id in its dimensions, tagged as the stack's.
func alarmInput(a deployment.Alarm, o *deployment.Observability, apiID, prefix string) *cloudwatch.PutMetricAlarmInput {
	in := &cloudwatch.PutMetricAlarmInput{
		AlarmName:          aws.String(a.Name),
		AlarmDescription:   aws.String(a.Description),
		ActionsEnabled:     aws.Bool(true),
		AlarmActions:       []string{o.Topic.ARN},
		OKActions:          []string{o.Topic.ARN},
		ComparisonOperator: cwtypes.ComparisonOperator(a.ComparisonOperator),
		Threshold:          aws.Float64(a.Threshold),
		EvaluationPeriods:  aws.Int32(int32(a.EvaluationPeriods)),
		DatapointsToAlarm:  aws.Int32(int32(a.DatapointsToAlarm)),
		TreatMissingData:   aws.String(a.TreatMissingData),
		Tags:               []cwtypes.Tag{{Key: aws.String(prefixTag), Value: aws.String(prefix)}},
	}
	if a.MetricName != "" {
		in.Namespace = aws.String(a.Namespace)
		in.MetricName = aws.String(a.MetricName)
		in.Dimensions = dimensions(a.Dimensions, o.APIIDPlaceholder, apiID)
		in.Period = aws.Int32(int32(a.Period))
		if a.ExtendedStatistic != "" {
			in.ExtendedStatistic = aws.String(a.ExtendedStatistic)
		} else {
			in.Statistic = cwtypes.Statistic(a.Statistic)
		}
	}
	for _, q := range a.Queries {
		mq := cwtypes.MetricDataQuery{Id: aws.String(q.ID), ReturnData: aws.Bool(q.ReturnData)}
		if q.Expression != "" {
			mq.Expression = aws.String(q.Expression)
		}
		if q.Label != "" {
			mq.Label = aws.String(q.Label)
		}
		if m := q.Metric; m != nil {
			mq.MetricStat = &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{
					Namespace:  aws.String(m.Namespace),
					MetricName: aws.String(m.MetricName),
					Dimensions: dimensions(m.Dimensions, o.APIIDPlaceholder, apiID),
				},
				Period: aws.Int32(int32(m.Period)),
				Stat:   aws.String(m.Stat),
			}
		}
		in.Metrics = append(in.Metrics, mq)
	}
	return in
}

// dimensions are dims ordered by name, the API's id in place of its
// placeholder.
func dimensions(dims map[string]string, placeholder, apiID string) []cwtypes.Dimension {
	var out []cwtypes.Dimension
	for _, k := range slices.Sorted(maps.Keys(dims)) {
		out = append(out, cwtypes.Dimension{Name: aws.String(k), Value: aws.String(strings.ReplaceAll(dims[k], placeholder, apiID))})
	}
	return out
}

// alarmMatches reports whether the live alarm got is the alarm want puts.
// Two things MiniStack 1.5.33 does differently are no difference: it keeps
// no metric math (a math alarm reads back with no Metrics, Statistic
// Average and Period 60), and it describes Statistic Average beside an
// ExtendedStatistic (localstack/README.md). AWS keeps both as sent.
func alarmMatches(want *cloudwatch.PutMetricAlarmInput, got cwtypes.MetricAlarm) bool {
	math := len(want.Metrics) > 0
	same := aws.ToString(want.AlarmDescription) == aws.ToString(got.AlarmDescription) &&
		aws.ToBool(want.ActionsEnabled) == aws.ToBool(got.ActionsEnabled) &&
		slices.Equal(want.AlarmActions, got.AlarmActions) &&
		slices.Equal(want.OKActions, got.OKActions) &&
		want.ComparisonOperator == got.ComparisonOperator &&
		aws.ToFloat64(want.Threshold) == aws.ToFloat64(got.Threshold) &&
		aws.ToInt32(want.EvaluationPeriods) == aws.ToInt32(got.EvaluationPeriods) &&
		aws.ToInt32(want.DatapointsToAlarm) == aws.ToInt32(got.DatapointsToAlarm) &&
		aws.ToString(want.TreatMissingData) == aws.ToString(got.TreatMissingData) &&
		aws.ToString(want.Namespace) == aws.ToString(got.Namespace) &&
		aws.ToString(want.MetricName) == aws.ToString(got.MetricName) &&
		aws.ToString(want.ExtendedStatistic) == aws.ToString(got.ExtendedStatistic) &&
		sameDimensions(want.Dimensions, got.Dimensions)
	if !same {
		return false
	}
	if !math {
		return aws.ToInt32(want.Period) == aws.ToInt32(got.Period) &&
			(want.ExtendedStatistic != nil || want.Statistic == got.Statistic)
	}
	return len(got.Metrics) == 0 || sameQueries(want.Metrics, got.Metrics)
}

func sameDimensions(a, b []cwtypes.Dimension) bool {
	m := func(ds []cwtypes.Dimension) map[string]string {
		out := map[string]string{}
		for _, d := range ds {
			out[aws.ToString(d.Name)] = aws.ToString(d.Value)
		}
		return out
	}
	return maps.Equal(m(a), m(b))
}

// sameQueries compares metric math queries by what they mean, through
// their JSON (dimensions ordered by name, as dimensions writes them).
func sameQueries(a, b []cwtypes.MetricDataQuery) bool {
	norm := func(qs []cwtypes.MetricDataQuery) []cwtypes.MetricDataQuery {
		out := slices.Clone(qs)
		for i := range out {
			if ms := out[i].MetricStat; ms != nil && ms.Metric != nil {
				dims := slices.Clone(ms.Metric.Dimensions)
				slices.SortFunc(dims, func(x, y cwtypes.Dimension) int { return strings.Compare(aws.ToString(x.Name), aws.ToString(y.Name)) })
				metric := *ms.Metric
				metric.Dimensions = dims
				stat := *ms
				stat.Metric = &metric
				out[i].MetricStat = &stat
			}
		}
		slices.SortFunc(out, func(x, y cwtypes.MetricDataQuery) int { return strings.Compare(aws.ToString(x.Id), aws.ToString(y.Id)) })
		return out
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// ensureDashboard puts the model's dashboard, with the API's id, unless
// the emulator holds that body already (compared as JSON).
func (d *deployer) ensureDashboard(ctx context.Context, o *deployment.Observability, apiID string) error {
	name := o.Dashboard.Name
	body := strings.ReplaceAll(o.Dashboard.Body, o.APIIDPlaceholder, apiID)
	status := statusCreated
	got, err := d.cw.GetDashboard(ctx, &cloudwatch.GetDashboardInput{DashboardName: &name})
	switch {
	case awserr.HasCode(err, "ResourceNotFound", "ResourceNotFoundException"):
	case err != nil:
		return fmt.Errorf("dashboard %s: %w", name, err)
	case sameJSON(aws.ToString(got.DashboardBody), body):
		status = statusUnchanged
	default:
		status = statusUpdated
	}
	if status != statusUnchanged {
		// PutDashboard creates or replaces: safe to retry.
		out, err := d.cw.PutDashboard(ctx, &cloudwatch.PutDashboardInput{DashboardName: &name, DashboardBody: &body})
		if err != nil {
			return fmt.Errorf("dashboard %s: %w", name, err)
		}
		for _, m := range out.DashboardValidationMessages {
			return fmt.Errorf("dashboard %s: %s: %s", name, aws.ToString(m.DataPath), aws.ToString(m.Message))
		}
	}
	d.p.report("dashboard", name, status)
	return nil
}
