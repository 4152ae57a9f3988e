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
# manifest name; attributes this module does not use (kind, http) are
# dropped by the type conversion.
variable "functions" {
  description = "The service's functions, keyed by manifest name."
  type = map(object({
    description = string
    memory      = number
    timeout     = number
    environment = optional(map(string), {})
    permissions = optional(object({
      dynamodb = optional(list(string), [])
    }), {})
  }))
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
