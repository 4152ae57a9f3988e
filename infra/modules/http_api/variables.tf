variable "name" {
  description = "Name of the HTTP API; also names its access log group."
  type        = string
}

variable "functions" {
  description = "The http functions, keyed by manifest name: route key (\"METHOD /path\"), auth level from the manifest, and the Lambda function behind the route."
  type = map(object({
    route_key     = string
    auth          = string
    function_name = string
    invoke_arn    = string
  }))

  validation {
    condition     = alltrue([for fn in values(var.functions) : can(regex("^(none|user|scope:[a-z][a-z0-9]*:[a-z][a-z0-9-]*)$", fn.auth))])
    error_message = "Every route's auth must be none, user or scope:<service>:<action>."
  }
}

variable "authorizer" {
  description = "The Lambda function of kind authorizer, which every route whose auth is not none goes through. Null when the manifests have none; a protected route then stops the plan."
  type = object({
    function_name = string
    invoke_arn    = string
  })
}

variable "authorizer_name" {
  description = "Name of the API's Lambda authorizer, whichever function backs it; unused when authorizer is null."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the access log group."
  type        = number
}

variable "throttling_burst_limit" {
  description = "Burst limit of every route on the $default stage."
  type        = number
}

variable "throttling_rate_limit" {
  description = "Steady-state requests per second of every route on the $default stage."
  type        = number
}
