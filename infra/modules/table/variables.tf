# One table of the deployment model (shared/deployment.Table), as
# deployment.json holds it.
variable "table" {
  description = "The table from the deployment model: name, ARN, keys, key attribute definitions, global secondary indexes, TTL attribute and stream view type."
  type = object({
    service      = string
    name         = string
    arn          = string
    partitionKey = string
    sortKey      = optional(string)
    attributes   = list(object({ name = string, type = string }))
    indexes = list(object({
      name         = string
      partitionKey = string
      sortKey      = optional(string)
      projection   = string
    }))
    ttl    = optional(string)
    stream = optional(string)
  })
}

variable "point_in_time_recovery" {
  description = "Continuous backups (the model's settings.pointInTimeRecovery)."
  type        = bool
}

variable "server_side_encryption" {
  description = "Encryption with the AWS-managed KMS key (aws/dynamodb) rather than the AWS-owned default (the model's settings.serverSideEncryption)."
  type        = bool
}

variable "deletion_protection" {
  description = "Refuse to delete the table (AWS hardening, not in the model)."
  type        = bool
}
