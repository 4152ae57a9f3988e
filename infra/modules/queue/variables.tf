# One SQS queue of the deployment model (shared/deployment.Queue), as
# deployment.json holds it: an event consumer's queue or dead-letter queue,
# or a stream relay's dead-letter queue.
variable "queue" {
  description = "The queue from the deployment model: name, ARN, visibility timeout and message retention (seconds), maximum message size (bytes), the receive count after which a message moves to the dead-letter queue (0 on a dead-letter queue), server-side encryption, and its resource policy (null for none)."
  type = object({
    name               = string
    arn                = string
    visibilityTimeout  = number
    messageRetention   = number
    maximumMessageSize = number
    maxReceiveCount    = optional(number, 0)
    sse                = bool
    policy             = optional(any)
  })
}

variable "dead_letter_queue_arn" {
  description = "ARN of the queue a message moves to after maxReceiveCount receives; null for a queue without one (a dead-letter queue itself)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags of the queue (the service it belongs to)."
  type        = map(string)
}
