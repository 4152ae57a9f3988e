# The alarms, the SNS topic they notify, the dashboard and the X-Ray
# sampling rules of the deployment model (shared/deployment
# observability.go): every alarm, its metric, dimensions, threshold and
# description are the model's; this module maps them onto resources.

locals {
  alarms      = { for a in var.observability.alarms : a.name => a }
  placeholder = var.observability.apiIdPlaceholder

  # The API's id, known once the API exists, in the dimensions that name it.
  dimensions = { for name, a in local.alarms : name => (a.dimensions == null ? null
    : { for k, v in a.dimensions : k => replace(v, local.placeholder, var.api_id) }
  ) }
  queries = { for name, a in local.alarms : name => [for q in a.queries : merge(q, {
    metric = q.metric == null ? null : merge(q.metric, {
      dimensions = { for k, v in q.metric.dimensions : k => replace(v, local.placeholder, var.api_id) }
    })
  })] }
}

resource "aws_sns_topic" "alarms" {
  name = var.observability.topic.name
}

resource "aws_sns_topic_subscription" "this" {
  for_each = { for s in var.subscribers : "${s.protocol}:${s.endpoint}" => s }

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = each.value.protocol
  endpoint  = each.value.endpoint
}

# Each alarm notifies the topic entering ALARM and again back at OK, so a
# subscriber learns that it is over.
#
# None on the local emulator (var.emulated): MiniStack 1.5.33 answers
# DescribeAlarms in the query protocol, the provider's, with an alarm's
# name, metric, namespace, threshold, comparison and periods only (no
# description, dimensions, statistic, actions, missing-data treatment),
# and stores no metric math at all. Every plan would then show every alarm
# as changed, and ignoring those attributes fails the plan (the provider
# checks that the state's statistic is set). The local deployer creates
# the same alarms there through the Go SDK, whose protocol MiniStack
# answers in full; localstack/README.md has the measurements.
resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = var.emulated ? {} : local.alarms

  alarm_name        = each.key
  alarm_description = each.value.description

  namespace          = each.value.namespace
  metric_name        = each.value.metricName
  dimensions         = local.dimensions[each.key]
  statistic          = each.value.statistic
  extended_statistic = each.value.extendedStatistic
  period             = each.value.period

  dynamic "metric_query" {
    for_each = local.queries[each.key]
    content {
      id          = metric_query.value.id
      expression  = metric_query.value.expression
      label       = metric_query.value.label
      return_data = metric_query.value.returnData

      dynamic "metric" {
        for_each = metric_query.value.metric == null ? [] : [metric_query.value.metric]
        content {
          namespace   = metric.value.namespace
          metric_name = metric.value.metricName
          dimensions  = metric.value.dimensions
          period      = metric.value.period
          stat        = metric.value.stat
        }
      }
    }
  }

  comparison_operator = each.value.comparisonOperator
  threshold           = each.value.threshold
  evaluation_periods  = each.value.evaluationPeriods
  datapoints_to_alarm = each.value.datapointsToAlarm
  treat_missing_data  = each.value.treatMissingData

  alarm_actions = [aws_sns_topic.alarms.arn]
  ok_actions    = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.observability.dashboard.name
  dashboard_body = replace(var.observability.dashboard.body, local.placeholder, var.api_id)
}

# Sampling rules belong to the account and region, not to a stack; their
# names carry the prefix. Lambda samples its own invocations at a fixed
# rate and ignores them (the model's SamplingRule says where they apply).
resource "aws_xray_sampling_rule" "this" {
  for_each = var.sampling_rules ? { for r in var.observability.samplingRules : r.name => r } : {}

  rule_name      = each.key
  priority       = each.value.priority
  fixed_rate     = each.value.fixedRate
  reservoir_size = each.value.reservoirSize
  service_name   = each.value.serviceName
  service_type   = each.value.serviceType
  host           = each.value.host
  http_method    = each.value.httpMethod
  url_path       = each.value.urlPath
  resource_arn   = each.value.resourceArn
  version        = each.value.version
}
