# One event consumer of the deployment model (shared/deployment.Consumer),
# as deployment.json holds it: a function of kind event.
variable "consumer" {
  description = "The consumer from the deployment model: its EventBridge rule (name, ARN, description, event pattern, target id), its queue and its dead-letter queue (the mapping's settings go to modules/function)."
  type = object({
    rule = object({
      name         = string
      arn          = string
      description  = string
      eventPattern = string
      targetId     = string
    })
    queue           = any # modules/queue checks its shape
    deadLetterQueue = any
  })
}

variable "event_bus_name" {
  description = "Name of the stack's event bus, which the rule listens on."
  type        = string
  # Null would put the rule on the account's default bus.
  nullable = false
}

variable "tags" {
  description = "Tags of the rule and the queues (the service the consumer belongs to)."
  type        = map(string)
}
