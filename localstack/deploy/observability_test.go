package main

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/shop-serverless/shop/shared/deployment"
	"github.com/shop-serverless/shop/shared/manifest"
)

// readBack is the alarm in as a describe answers it on AWS.
func readBack(in *cloudwatch.PutMetricAlarmInput) cwtypes.MetricAlarm {
	return cwtypes.MetricAlarm{
		AlarmName: in.AlarmName, AlarmDescription: in.AlarmDescription, ActionsEnabled: in.ActionsEnabled,
		AlarmActions: in.AlarmActions, OKActions: in.OKActions, ComparisonOperator: in.ComparisonOperator,
		Threshold: in.Threshold, EvaluationPeriods: in.EvaluationPeriods, DatapointsToAlarm: in.DatapointsToAlarm,
		TreatMissingData: in.TreatMissingData, Namespace: in.Namespace, MetricName: in.MetricName,
		Dimensions: in.Dimensions, Statistic: in.Statistic, ExtendedStatistic: in.ExtendedStatistic,
		Period: in.Period, Metrics: in.Metrics,
	}
}

// An alarm read back as written matches, and so does what MiniStack makes
// of one (no metric math kept; Statistic Average beside an extended
// statistic); any change of the model's does not.
func TestAlarmMatches(t *testing.T) {
	set, err := manifest.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	model, err := deployment.Build(set, deployment.Params{Prefix: "shop", Region: "us-east-1", Account: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	o := model.Observability
	for _, a := range o.Alarms {
		in := alarmInput(a, o, "api1", "shop")
		got := readBack(in)
		if !alarmMatches(in, got) {
			t.Errorf("%s read back as written: no match", a.Name)
		}
		emulated := got
		if len(in.Metrics) > 0 {
			emulated.Metrics, emulated.Statistic, emulated.Period = nil, cwtypes.StatisticAverage, aws.Int32(60)
		}
		if in.ExtendedStatistic != nil {
			emulated.Statistic = cwtypes.StatisticAverage
		}
		if !alarmMatches(in, emulated) {
			t.Errorf("%s read back as MiniStack does: no match", a.Name)
		}
		changed := got
		changed.Threshold = aws.Float64(aws.ToFloat64(got.Threshold) + 1)
		if alarmMatches(in, changed) {
			t.Errorf("%s with another threshold: a match", a.Name)
		}
		changed = got
		changed.AlarmDescription = aws.String("old")
		if alarmMatches(in, changed) {
			t.Errorf("%s with another description: a match", a.Name)
		}
		if len(in.Dimensions) > 0 {
			changed = got
			changed.Dimensions = append([]cwtypes.Dimension{}, got.Dimensions[1:]...)
			if alarmMatches(in, changed) {
				t.Errorf("%s with a dimension less: a match", a.Name)
			}
		}
		for _, d := range in.Dimensions {
			if aws.ToString(d.Value) == o.APIIDPlaceholder {
				t.Errorf("%s: placeholder left in %s", a.Name, aws.ToString(d.Name))
			}
		}
	}
}
