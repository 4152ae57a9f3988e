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
