variable "name_prefix" {
  description = "Prefix of the physical names."
  type        = string
}

variable "service" {
  description = "Service name: the directory under functions/ and the table's suffix."
  type        = string
}

# The table section of functions/<service>/service.yaml, as yamldecode gives
# it; the attribute names are the manifest's, so the root passes it verbatim.
variable "table" {
  description = "The service's table: keys, optional TTL attribute, stream view type and global secondary indexes."
  type = object({
    partitionKey = object({ name = string, type = string })
    sortKey      = optional(object({ name = string, type = string }))
    ttl          = optional(string)
    stream       = optional(string)
    indexes = optional(list(object({
      name         = string
      partitionKey = object({ name = string, type = string })
      sortKey      = optional(object({ name = string, type = string }))
      projection   = string
    })), [])
  })
}

# Each functions/<service>/<op>/function.yaml of this service, keyed by its
# manifest name; attributes this module does not use (kind) are dropped by
# the type conversion.
variable "functions" {
  description = "The service's functions, keyed by manifest name."
  type = map(object({
    description = string
    memory      = number
    timeout     = number
    environment = optional(map(string), {})
    http        = optional(object({ method = string, path = string, auth = string }))
    permissions = optional(object({
      dynamodb   = optional(list(string), [])
      signingKey = optional(bool, false)
      publicKeys = optional(bool, false)
      breakers   = optional(bool, false)
    }), {})
  }))
}

# The shared resources a manifest's permissions can reach, by ARN. Each is
# granted only to the functions whose manifest asks for it.

variable "signing_secret_arn" {
  description = "Secrets Manager secret with this service's token signing keys (issuer <prefix>-<service>), for functions with permissions.signingKey. Null when no function of the service signs tokens."
  type        = string
}

variable "jwks_parameter_arn" {
  description = "SSM parameter with every issuer's public keys (/<prefix>/jwks), for functions with permissions.publicKeys."
  type        = string
}

variable "breaker_table_arn" {
  description = "The platform service's table, where functions with permissions.breakers share circuit-breaker state. Null when there is no platform service."
  type        = string
}

variable "artifacts_dir" {
  description = "Directory holding <manifest name>.zip for every function."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the functions' log groups."
  type        = number
}

variable "deletion_protection" {
  description = "Refuse to delete the table."
  type        = bool
}
