# The function's own role, holding exactly what the model grants it.
resource "aws_iam_role" "this" {
  name               = var.function.role.name
  description        = var.function.role.description
  assume_role_policy = jsonencode(var.function.role.trust)
  tags               = { service = var.function.service }
}

resource "aws_iam_role_policy" "this" {
  name   = var.function.role.policyName
  role   = aws_iam_role.this.id
  policy = jsonencode(var.function.role.policy)
}

# Created by the deployment rather than by Lambda on first write, which
# would leave it unmanaged and never expiring; the role may therefore write
# to it but never create a log group.
resource "aws_cloudwatch_log_group" "this" {
  name              = var.function.logGroup
  retention_in_days = var.log_retention
  tags              = { service = var.function.service }
}

resource "aws_lambda_function" "this" {
  function_name = var.function.functionName
  description   = var.function.description
  role          = aws_iam_role.this.arn

  runtime       = var.function.runtime
  handler       = var.function.handler
  architectures = [var.architecture]

  # Planning fails if the zip is missing: run `make build-aws` (or, for an
  # emulator, `make build`) first.
  filename         = var.artifact
  source_code_hash = filebase64sha256(var.artifact)

  memory_size                    = var.function.memory
  timeout                        = var.function.timeout
  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = merge(var.extra_env, var.function.environment, var.bindings)
  }

  tracing_config {
    mode = var.function.tracing
  }

  logging_config {
    log_format = var.function.logFormat
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags = { service = var.function.service }

  # The first invocation must find its log group and its permissions in
  # place; the role alone does not wait for its inline policy.
  depends_on = [aws_iam_role_policy.this]
}
