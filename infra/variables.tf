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
  description = "Prefix of every physical name: tables are <prefix>-<service>, functions <prefix>-<service>-<op>. Lets two stacks share an account."
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

variable "log_retention_days" {
  description = "Retention of the functions' and the API's CloudWatch log groups."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "api_throttling_burst_limit" {
  description = "Requests the HTTP API's $default stage lets through in a burst, for every route."
  type        = number
  default     = 100

  validation {
    condition     = var.api_throttling_burst_limit >= 0 && floor(var.api_throttling_burst_limit) == var.api_throttling_burst_limit
    error_message = "api_throttling_burst_limit must be a whole number >= 0."
  }
}

variable "api_throttling_rate_limit" {
  description = "Steady-state requests per second the HTTP API's $default stage allows, for every route."
  type        = number
  default     = 50

  validation {
    condition     = var.api_throttling_rate_limit >= 0
    error_message = "api_throttling_rate_limit must be >= 0."
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
  description = "Base URL of an AWS emulator (LocalStack, MiniStack), e.g. http://localhost:4566. Null (the default) deploys to AWS."
  type        = string
  default     = null

  validation {
    condition     = var.endpoint_url == null || can(regex("^https?://[^/]+/?$", var.endpoint_url))
    error_message = "endpoint_url must be null or a base URL like http://localhost:4566 (scheme, host, optional port; no path)."
  }
}
