# One function of the deployment model (shared/deployment.Function), as
# deployment.json holds it; its route, if any, goes to modules/http_api.
variable "function" {
  description = "The function from the deployment model: physical name, settings, environment, log group and its own role with its trust and permissions policies."
  type = object({
    name         = string
    service      = string
    functionName = string
    description  = string
    runtime      = string
    handler      = string
    memory       = number
    timeout      = number
    tracing      = string
    logFormat    = string
    logGroup     = string
    environment  = map(string)
    role = object({
      name        = string
      description = string
      policyName  = string
      trust       = any
      policy      = any
    })
  })
}

variable "artifact" {
  description = "Path of the function's zip, holding a bootstrap binary for architecture."
  type        = string
}

variable "artifact_bucket" {
  description = "The artifacts bucket (modules/artifacts) the zip goes through."
  type        = string
}

variable "artifact_key_prefix" {
  description = "Where the functions' zips go in the artifacts bucket (the model's artifacts.keyPrefix)."
  type        = string
}

variable "architecture" {
  description = "arm64 or x86_64 (the root module validates it)."
  type        = string
}

variable "bindings" {
  description = "The function's bindings, resolved by the root module (variable -> value: the API's URL, the payment provider's URL)."
  type        = map(string)
}

variable "extra_env" {
  description = "Variables added to the model's environment; the model's win."
  type        = map(string)
}

variable "log_retention" {
  description = "Retention of the function's log group, in days."
  type        = number
}

variable "reserved_concurrency" {
  description = "Reserved concurrency; null leaves the function unreserved."
  type        = number
}

# The function's trigger besides an API route (modules/http_api) or a state
# machine (modules/state_machine): at most one of the two below.

variable "queue_mapping" {
  description = "An event consumer's trigger: its queue (modules/consumer) and the model's mapping settings (consumer.mapping: batch size, response types, maximum concurrency). Null for any other function."
  type = object({
    queue_arn             = string
    batchSize             = number
    functionResponseTypes = list(string)
    maximumConcurrency    = number
  })
  default = null
}

variable "stream_mapping" {
  description = "An outbox relay's trigger: its table's stream, its dead-letter queue, and the model's mapping settings (relay: filter, batch size, starting position, bisection, retry and age limits). Null for any other function."
  type = object({
    stream_arn            = string
    dead_letter_queue_arn = string
    filterPattern         = string
    batchSize             = number
    startingPosition      = string
    bisectOnError         = bool
    maximumRetryAttempts  = number
    maximumRecordAge      = number
  })
  default = null
}
