# The observability part of the deployment model
# (shared/deployment.Observability), as deployment.json holds it.
variable "observability" {
  description = "The model's observability: the alarms' SNS topic, the alarms (each one metric with its dimensions and statistic, or metric math queries), the dashboard (name and body JSON), the X-Ray sampling rules, and the text standing for the API's id in dimensions and the dashboard body."
  type = object({
    apiIdPlaceholder = string
    topic = object({
      name = string
      arn  = string
    })
    alarms = list(object({
      name               = string
      description        = string
      namespace          = optional(string)
      metricName         = optional(string)
      dimensions         = optional(map(string))
      statistic          = optional(string)
      extendedStatistic  = optional(string)
      period             = optional(number)
      comparisonOperator = string
      threshold          = number
      evaluationPeriods  = number
      datapointsToAlarm  = number
      treatMissingData   = string
      queries = optional(list(object({
        id         = string
        expression = optional(string)
        label      = optional(string)
        returnData = bool
        metric = optional(object({
          namespace  = string
          metricName = string
          dimensions = map(string)
          period     = number
          stat       = string
        }))
      })), [])
    }))
    dashboard = object({
      name = string
      body = string
    })
    samplingRules = list(object({
      name          = string
      priority      = number
      fixedRate     = number
      reservoirSize = number
      serviceName   = string
      serviceType   = string
      host          = string
      httpMethod    = string
      urlPath       = string
      resourceArn   = string
      version       = number
    }))
  })
}

variable "api_id" {
  description = "The HTTP API's id, which replaces apiIdPlaceholder in the alarms' dimensions and the dashboard body."
  type        = string
}

variable "subscribers" {
  description = "Who the alarms notify: SNS subscriptions of the alarms topic, each a protocol (email, https, sqs, lambda, ...) and its endpoint. An email subscriber must confirm the subscription before it gets anything."
  type = list(object({
    protocol = string
    endpoint = string
  }))
  default = []
}

variable "sampling_rules" {
  description = "Whether to create the X-Ray sampling rules (the emulator has no X-Ray API: off there)."
  type        = bool
  default     = true
}

variable "emulated" {
  description = "Whether the target is the local emulator, which cannot read alarms back as Terraform wrote them: no alarms there (see aws_cloudwatch_metric_alarm.this)."
  type        = bool
  default     = false
}
