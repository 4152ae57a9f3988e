# The deployment model's API (shared/deployment.HTTPAPI), as deployment.json
# holds it.
variable "api" {
  description = "The HTTP API from the deployment model: name, description, stage, payload format, access log group and format."
  type = object({
    name                 = string
    description          = string
    stage                = string
    payloadFormatVersion = string
    accessLogGroup       = string
    accessLogFormat      = string
  })
}

variable "routes" {
  description = "The routes of the model's http functions, keyed by manifest name, with the Lambda function behind each and whether it hashes passwords (tighter throttling)."
  type = map(object({
    routeKey          = string
    authorizationType = string
    invokeSource      = string
    permissionId      = string
    function_name     = string
    invoke_arn        = string
    password          = bool
  }))
}

variable "authorizer" {
  description = "The model's Lambda authorizer with the function behind it; null when the model has none (and then every route is open)."
  type = object({
    name            = string
    type            = string
    payloadVersion  = string
    simpleResponses = bool
    identitySources = list(string)
    ttlSeconds      = number
    permissionId    = string
    function_name   = string
    invoke_arn      = string
  })
}

variable "cors" {
  description = "The API's CORS configuration: the model's (api.cors) with the operator's allowed origins; null configures none."
  type = object({
    allowOrigins     = list(string)
    allowMethods     = list(string)
    allowHeaders     = list(string)
    exposeHeaders    = list(string)
    maxAgeSeconds    = number
    allowCredentials = bool
  })
  default = null
}

# The model's settings, or the operator's overrides.

variable "log_retention_days" {
  description = "Retention of the access log group."
  type        = number
}

variable "throttling" {
  description = "Token bucket of every route on the stage: burst, and rate per second."
  type        = object({ burst = number, rate = number })
}

variable "password_throttling" {
  description = "Token bucket of each password-hashing route on the stage."
  type        = object({ burst = number, rate = number })
}
