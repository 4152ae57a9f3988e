variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2,4}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "region must look like an AWS region, e.g. eu-west-1."
  }
}

variable "name_prefix" {
  description = "Prefix of every physical name (substituted for {prefix} in deployment.json): tables are <prefix>-<service>, functions <prefix>-<service>-<op>. Lets two stacks share an account."
  type        = string
  default     = "shop"

  # Lambda function and IAM role names stop at 64 characters; a short prefix
  # leaves the manifests' <service>-<op> names room to grow.
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,18}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 2-20 characters of a-z, 0-9 and '-', start with a letter and not end with '-'."
  }
}

variable "artifacts_dir" {
  description = "Directory holding one <function name>.zip per function, as `make build-aws` writes them. Null means build/aws at the repository root (path.root/../build/aws)."
  type        = string
  default     = null
  # A variable default cannot reference path.root, hence null and the
  # fallback in local.artifacts_dir.
}

variable "architecture" {
  description = "Instruction set of every function: arm64 (Graviton) on AWS. The zips must hold binaries for it (`make build-aws` builds arm64). An emulator runs whatever binary the zip holds and ignores this setting, so there use host zips (`make build`) and, for an honest plan, the host's architecture."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "function_environment" {
  description = "Extra environment variables for every function, e.g. the local stack's test switches. The model's own variables (deployment.json) win over these: nothing here can change a function's wiring."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Retention of the functions' and the API's CloudWatch log groups, in days. Null means the model's (settings.logRetentionDays in deployment.json, 14)."
  type        = number
  default     = null

  validation {
    condition     = var.log_retention_days == null || try(contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days), false)
    error_message = "log_retention_days must be null or one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "api_throttling_burst_limit" {
  description = "Requests the HTTP API's stage lets through in a burst, for every route. Null means the model's (settings.throttling.burst, 100)."
  type        = number
  default     = null

  validation {
    condition     = var.api_throttling_burst_limit == null || try(var.api_throttling_burst_limit >= 0 && floor(var.api_throttling_burst_limit) == var.api_throttling_burst_limit, false)
    error_message = "api_throttling_burst_limit must be null or a whole number >= 0."
  }
}

variable "api_throttling_rate_limit" {
  description = "Steady-state requests per second the HTTP API's stage allows, for every route. Null means the model's (settings.throttling.rate, 50)."
  type        = number
  default     = null

  validation {
    condition     = var.api_throttling_rate_limit == null || try(var.api_throttling_rate_limit >= 0, false)
    error_message = "api_throttling_rate_limit must be null or >= 0."
  }
}

# The routes whose functions hash passwords (argon2id: register, login) cost
# far more per request than any other, and login is what a password guesser
# calls: the model gives them tighter stage limits of their own
# (settings.passwordThrottling; hashesPasswords marks them), which these
# override, and they can get reserved concurrency, so a flood on them
# neither runs up the bill nor starves the other functions of the account's
# concurrency.
variable "password_route_throttling_burst_limit" {
  description = "Burst limit of each password-hashing route (register, login) on the stage. Null means the model's (settings.passwordThrottling.burst, 10)."
  type        = number
  default     = null

  validation {
    condition     = var.password_route_throttling_burst_limit == null || try(var.password_route_throttling_burst_limit >= 0 && floor(var.password_route_throttling_burst_limit) == var.password_route_throttling_burst_limit, false)
    error_message = "password_route_throttling_burst_limit must be null or a whole number >= 0."
  }
}

variable "password_route_throttling_rate_limit" {
  description = "Steady-state requests per second of each password-hashing route (register, login) on the stage. Null means the model's (settings.passwordThrottling.rate, 5)."
  type        = number
  default     = null

  validation {
    condition     = var.password_route_throttling_rate_limit == null || try(var.password_route_throttling_rate_limit >= 0, false)
    error_message = "password_route_throttling_rate_limit must be null or >= 0."
  }
}

variable "password_function_reserved_concurrency" {
  description = "Reserved concurrency of each password-hashing function (register, login): its ceiling, and capacity no other function can take from it. Null leaves them unreserved (a new account's concurrency quota may leave nothing to reserve)."
  type        = number
  default     = null

  validation {
    condition     = var.password_function_reserved_concurrency == null || try(var.password_function_reserved_concurrency >= 0 && floor(var.password_function_reserved_concurrency) == var.password_function_reserved_concurrency, false)
    error_message = "password_function_reserved_concurrency must be null or a whole number >= 0."
  }
}

variable "event_archive_retention_days" {
  description = "Days the event bus's archive keeps an event, and so how far back `make replay` can reach; 0 keeps events for ever. Null means the model's (eventBus.archive.retentionDays in deployment.json, 30)."
  type        = number
  default     = null

  validation {
    condition     = var.event_archive_retention_days == null || try(var.event_archive_retention_days >= 0 && floor(var.event_archive_retention_days) == var.event_archive_retention_days, false)
    error_message = "event_archive_retention_days must be null or a whole number >= 0 (0: for ever)."
  }
}

# CORS: which web apps' pages may call the API from a browser. The rest of
# the configuration (methods, headers, max age, no credentials) is the
# model's (api.cors in deployment.json); the origins are the operator's.
variable "cors_allowed_origins" {
  description = "Origins (scheme://host[:port], lower case, no path) whose pages may call the API from a browser, e.g. [\"https://shop.example.com\"]; [\"*\"] allows any. Empty (the default) configures no CORS: browsers then refuse cross-origin calls, and other clients are unaffected."
  type        = list(string)
  default     = []
  nullable    = false

  # The pattern is shared/deployment.OriginPattern, which the local
  # deployer validates with (infra/terraform_test.go checks it is the same).
  validation {
    condition = ((length(var.cors_allowed_origins) == 1 && try(var.cors_allowed_origins[0] == "*", false))
      || alltrue([for o in var.cors_allowed_origins : can(regex("^https?://[a-z0-9-]+([.][a-z0-9-]+)*(:[0-9]{1,5})?$", o))])
    )
    error_message = "cors_allowed_origins must be empty, [\"*\"] alone, or origins like https://shop.example.com or http://localhost:3000 (scheme://host[:port] in lower case, no path, no trailing slash)."
  }
}

variable "table_deletion_protection" {
  description = "Refuse to delete the services' tables. Keep true for AWS; set false for throwaway stacks (an emulator, a review environment) so destroy works."
  type        = bool
  default     = true
}

variable "signing_secret_recovery_window_days" {
  description = "Days a deleted token signing secret stays recoverable before Secrets Manager erases it; 0 erases at once (throwaway stacks, emulators)."
  type        = number
  default     = 7

  validation {
    condition     = var.signing_secret_recovery_window_days == 0 || (var.signing_secret_recovery_window_days >= 7 && var.signing_secret_recovery_window_days <= 30)
    error_message = "signing_secret_recovery_window_days must be 0 or 7-30, the values Secrets Manager accepts."
  }
}

variable "endpoint_url" {
  description = "Base URL of an AWS emulator (LocalStack, MiniStack), e.g. http://127.0.0.1:4566. Null (the default) deploys to AWS."
  type        = string
  default     = null

  validation {
    condition     = var.endpoint_url == null || can(regex("^https?://[^/]+/?$", var.endpoint_url))
    error_message = "endpoint_url must be null or a base URL like http://127.0.0.1:4566 (scheme, host, optional port; no path)."
  }
}

variable "use_payment_simulator" {
  description = "Deploy the payment provider's simulator (the localOnly service: its table, functions and routes under /provider on the stack's API), point the payments functions at it, and create its credentials secret with a random key. For test stacks; a real deployment leaves it false and sets payment_provider_url."
  type        = bool
  default     = false
}

variable "payment_provider_url" {
  description = "Base URL of the real payment provider (no trailing slash), the payments functions' SHOP_PAYMENT_PROVIDER_URL. Required when use_payment_simulator is false and the model has a payment provider; ignored with the simulator."
  type        = string
  default     = null

  validation {
    condition     = var.payment_provider_url == null || can(regex("^https?://[^ ]+[^/]$", var.payment_provider_url))
    error_message = "payment_provider_url must be null or an http(s) URL without a trailing slash."
  }
}

variable "payment_provider_secret_name" {
  description = "Secrets Manager secret holding the payment provider's credentials as JSON {\"apiKey\": \"...\"}. Null means the model's <name_prefix>/payment-provider. Without the simulator the operator creates and rotates it; Terraform only grants the functions GetSecretValue on it."
  type        = string
  default     = null
}

variable "alarm_subscribers" {
  description = "Who the alarms notify: subscriptions of the alarms topic (<prefix>-alarms), each a protocol (email, https, sqs, lambda, ...) and its endpoint, e.g. [{ protocol = \"email\", endpoint = \"oncall@example.com\" }]. An email address must confirm its subscription. Empty: the alarms change state and notify no one."
  type = list(object({
    protocol = string
    endpoint = string
  }))
  default = []
}

variable "xray_sampling_rules" {
  description = "Whether to create the model's X-Ray sampling rules (a default for the stack, a higher rate for placing orders). The local emulator has no X-Ray API: the apply test turns them off."
  type        = bool
  default     = true
}
