locals {
  table_name     = "${var.name_prefix}-${var.service}"
  function_names = { for name in keys(var.functions) : name => "${var.name_prefix}-${name}" }
  artifacts      = { for name in keys(var.functions) : name => "${var.artifacts_dir}/${name}.zip" }

  # DynamoDB wants an attribute definition for every key attribute of the
  # table and its indexes, and no other; an index may reuse a table key, so
  # group by name and require one type per name (checked on the table).
  key_attribute_types = {
    for key in concat(
      [var.table.partitionKey, var.table.sortKey],
      flatten([for ix in var.table.indexes : [ix.partitionKey, ix.sortKey]]),
    ) : key.name => key.type... if key != null
  }

  tags = { service = var.service }
}

resource "aws_dynamodb_table" "this" {
  name         = local.table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = var.table.partitionKey.name
  range_key    = var.table.sortKey == null ? null : var.table.sortKey.name

  dynamic "attribute" {
    for_each = local.key_attribute_types
    content {
      name = attribute.key
      type = attribute.value[0]
    }
  }

  # hash_key/range_key rather than key_schema blocks: key_schema only exists
  # from provider 6.29 (and behaves from 6.37), while these work across ~> 6.0;
  # newer providers print a deprecation warning for them.
  dynamic "global_secondary_index" {
    for_each = { for ix in var.table.indexes : ix.name => ix }
    content {
      name            = global_secondary_index.key
      hash_key        = global_secondary_index.value.partitionKey.name
      range_key       = global_secondary_index.value.sortKey == null ? null : global_secondary_index.value.sortKey.name
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

  point_in_time_recovery {
    enabled = true
  }

  # enabled = true means the AWS-managed KMS key (aws/dynamodb), whose use
  # shows in CloudTrail, instead of the invisible AWS-owned default.
  server_side_encryption {
    enabled = true
  }

  deletion_protection_enabled = var.deletion_protection

  tags = local.tags

  lifecycle {
    precondition {
      condition     = alltrue([for name, types in local.key_attribute_types : length(distinct(types)) == 1])
      error_message = "Table ${local.table_name}: a key attribute is declared with two different types in service.yaml."
    }
  }
}

data "aws_iam_policy_document" "assume_role" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

# One role per function, so each holds exactly what its manifest asks for.
resource "aws_iam_role" "this" {
  for_each = var.functions

  name               = local.function_names[each.key]
  description        = "Runs ${local.function_names[each.key]}"
  assume_role_policy = data.aws_iam_policy_document.assume_role.json
  tags               = local.tags
}

data "aws_iam_policy_document" "this" {
  for_each = var.functions

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this[each.key].arn}:*"]
  }

  # Tracing is Active; these two X-Ray actions support no resource-level
  # permissions, so "*" is the only resource they accept.
  statement {
    sid       = "WriteTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  # The manifest's DynamoDB actions, on this service's table and its indexes
  # and nothing else: no service reads another service's table. No statement
  # at all when the manifest lists none (an empty action list is invalid).
  dynamic "statement" {
    for_each = length(each.value.permissions.dynamodb) > 0 ? [each.value.permissions.dynamodb] : []
    content {
      sid       = "OwnTable"
      actions   = [for action in statement.value : "dynamodb:${action}"]
      resources = [aws_dynamodb_table.this.arn, "${aws_dynamodb_table.this.arn}/index/*"]
    }
  }

  # permissions.signingKey: read this service's own signing keys, to issue
  # tokens as <prefix>-<service>. Never another issuer's secret.
  dynamic "statement" {
    for_each = each.value.permissions.signingKey ? ["signingKey"] : []
    content {
      sid       = "ReadOwnSigningKeys"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [var.signing_secret_arn]
    }
  }

  # permissions.publicKeys: read the published public keys, to verify tokens.
  dynamic "statement" {
    for_each = each.value.permissions.publicKeys ? ["publicKeys"] : []
    content {
      sid       = "ReadPublicKeys"
      actions   = ["ssm:GetParameter"]
      resources = [var.jwks_parameter_arn]
    }
  }

  # permissions.breakers: read and write circuit-breaker state in the
  # platform service's table, and only its BREAKER#<dependency> items: every
  # key the request touches must match (ForAllValues), so no other item of
  # that table can be read or overwritten through this grant.
  dynamic "statement" {
    for_each = each.value.permissions.breakers ? ["breakers"] : []
    content {
      sid       = "SharedBreakers"
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
      resources = [var.breaker_table_arn]
      condition {
        test     = "ForAllValues:StringLike"
        variable = "dynamodb:LeadingKeys"
        values   = ["BREAKER#*"]
      }
    }
  }
}

resource "aws_iam_role_policy" "this" {
  for_each = var.functions

  name   = "least-privilege"
  role   = aws_iam_role.this[each.key].id
  policy = data.aws_iam_policy_document.this[each.key].json

  lifecycle {
    # A statement whose resource is null would fail at apply, far from the
    # cause; name the cause at plan time instead.
    precondition {
      condition     = !each.value.permissions.signingKey || var.signing_secret_arn != null
      error_message = "Function ${each.key} asks for permissions.signingKey, but no signing secret was passed for service ${var.service}."
    }
    precondition {
      condition     = !each.value.permissions.breakers || var.breaker_table_arn != null
      error_message = "Function ${each.key} asks for permissions.breakers, but there is no platform service (functions/platform/service.yaml) whose table holds the breakers."
    }
  }
}

# Created here rather than by Lambda on first write, which would make it
# unmanaged and never expiring.
resource "aws_cloudwatch_log_group" "this" {
  for_each = var.functions

  name              = "/aws/lambda/${local.function_names[each.key]}"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

locals {
  # The wiring only http functions get: SHOP_AUTH and SHOP_ROUTE (see the
  # function's environment below).
  http_wiring = {
    for name, fn in var.functions : name => fn.http == null ? {} : {
      SHOP_AUTH  = fn.http.auth
      SHOP_ROUTE = "${fn.http.method} ${fn.http.path}"
    }
  }
}

resource "aws_lambda_function" "this" {
  for_each = var.functions

  function_name = local.function_names[each.key]
  description   = each.value.description
  role          = aws_iam_role.this[each.key].arn

  # A Go binary named bootstrap on the OS-only runtime, built for Graviton.
  runtime       = "provided.al2023"
  architectures = ["arm64"]
  handler       = "bootstrap"

  # Planning fails if the zip is missing: run `make build-aws` first.
  filename         = local.artifacts[each.key]
  source_code_hash = filebase64sha256(local.artifacts[each.key])

  memory_size = each.value.memory
  timeout     = each.value.timeout

  # The platform's wiring goes last so a manifest cannot override it (the
  # manifest loader rejects SHOP_* names as well). SHOP_AUTH, on http
  # functions only, is the route's auth level: the API's authorizer only
  # authenticates, and the function verifies the token and enforces the
  # level itself. SHOP_ROUTE is the route the handler is mounted on where
  # nothing routes in front of it (Knative).
  environment {
    variables = merge(each.value.environment, {
      SHOP_PREFIX   = var.name_prefix
      SHOP_SERVICE  = var.service
      SHOP_FUNCTION = each.key
      SHOP_TABLE    = aws_dynamodb_table.this.name
    }, local.http_wiring[each.key])
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this[each.key].name
  }

  tags = local.tags

  # The first invocation must find its log group and its permissions in
  # place; the role alone does not wait for its inline policy.
  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}
