resource "aws_dynamodb_table" "this" {
  name         = var.table.name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = var.table.partitionKey
  range_key    = var.table.sortKey

  dynamic "attribute" {
    for_each = var.table.attributes
    content {
      name = attribute.value.name
      type = attribute.value.type
    }
  }

  # hash_key/range_key rather than key_schema blocks: key_schema only exists
  # from provider 6.29 (and behaves from 6.37), while these work from 5.100
  # through 6.x; newer providers print a deprecation warning for them.
  dynamic "global_secondary_index" {
    for_each = var.table.indexes
    content {
      name            = global_secondary_index.value.name
      hash_key        = global_secondary_index.value.partitionKey
      range_key       = global_secondary_index.value.sortKey
      projection_type = global_secondary_index.value.projection
    }
  }

  dynamic "ttl" {
    for_each = var.table.ttl == null ? [] : [var.table.ttl]
    content {
      attribute_name = ttl.value
      enabled        = true
    }
  }

  # stream_view_type stays null without a stream: the provider warns when a
  # view type is set on a table whose stream is off.
  stream_enabled   = var.table.stream != null
  stream_view_type = var.table.stream

  # The model's settings: point-in-time recovery, and encryption with the
  # AWS-managed KMS key (aws/dynamodb), whose use shows in CloudTrail,
  # instead of the invisible AWS-owned default.
  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  server_side_encryption {
    enabled = var.server_side_encryption
  }

  # AWS hardening, not in the model.
  deletion_protection_enabled = var.deletion_protection

  tags = { service = var.table.service }

  lifecycle {
    # The functions' policies name the table by the model's ARN, not by
    # this resource's: if the two ever differ (a partition or account the
    # model got wrong), every grant on the table would miss it.
    postcondition {
      condition     = self.arn == var.table.arn
      error_message = "Table ${var.table.name} has ARN ${self.arn}, but the deployment model (and so every policy that grants it) says ${var.table.arn}."
    }
  }
}
