# The stack's event bus of the deployment model (shared/deployment.EventBus),
# as deployment.json holds it.
variable "event_bus" {
  description = "The event bus from the deployment model: name, ARN, description, and its archive (name, ARN, description, retention in days)."
  type = object({
    name        = string
    arn         = string
    description = string
    archive = object({
      name          = string
      arn           = string
      description   = string
      retentionDays = number
    })
  })
}

variable "archive_retention_days" {
  description = "Days the archive keeps an event (0: for ever): the model's, or the operator's override."
  type        = number
}
