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

# The function's zip in the artifacts bucket, named by its content: a
# changed zip is a new object, and the old one goes once the function has
# its new code. Planning fails if the zip is missing: run `make build-aws`
# (or, for an emulator, `make build`) first.
resource "aws_s3_object" "code" {
  bucket      = var.artifact_bucket
  key         = "${var.artifact_key_prefix}${var.function.functionName}/${filesha256(var.artifact)}.zip"
  source      = var.artifact
  source_hash = filebase64sha256(var.artifact)
  tags        = { service = var.function.service }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lambda_function" "this" {
  function_name = var.function.functionName
  description   = var.function.description
  role          = aws_iam_role.this.arn

  runtime       = var.function.runtime
  handler       = var.function.handler
  architectures = [var.architecture]

  # The code comes from the artifacts bucket (modules/artifacts); a new
  # zip is a new object, whose hash below makes Lambda update the code.
  s3_bucket        = aws_s3_object.code.bucket
  s3_key           = aws_s3_object.code.key
  source_code_hash = aws_s3_object.code.source_hash

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

# An event consumer's trigger: Lambda polls its queue and hands the
# function batches; with partial batch responses (the model's response
# types) it deletes only the messages the function did not report as
# failed, and the failed ones come back after the queue's visibility
# timeout, until the redrive moves them to the dead-letter queue.
resource "aws_lambda_event_source_mapping" "queue" {
  count = var.queue_mapping == null ? 0 : 1

  event_source_arn        = var.queue_mapping.queue_arn
  function_name           = aws_lambda_function.this.arn
  batch_size              = var.queue_mapping.batchSize
  function_response_types = var.queue_mapping.functionResponseTypes

  # Lambda's pollers stop at this many concurrent invocations for the
  # queue; the rest of its messages wait there.
  scaling_config {
    maximum_concurrency = var.queue_mapping.maximumConcurrency
  }

  tags = { service = var.function.service }
}

# An outbox relay's trigger: its table's stream, filtered to outbox items,
# read from the oldest record still held (nothing written before the
# mapping existed is lost). A batch that keeps failing is halved until the
# failing record stands alone; after its retries or at its age limit, the
# record's description goes to the dead-letter queue and the shard moves on,
# so one bad record never wedges the records behind it. (The relay parks
# there itself a record it can never publish: its deadLetterQueueUrl
# binding.)
resource "aws_lambda_event_source_mapping" "stream" {
  count = var.stream_mapping == null ? 0 : 1

  event_source_arn  = var.stream_mapping.stream_arn
  function_name     = aws_lambda_function.this.arn
  starting_position = var.stream_mapping.startingPosition
  batch_size        = var.stream_mapping.batchSize

  filter_criteria {
    filter {
      pattern = var.stream_mapping.filterPattern
    }
  }

  bisect_batch_on_function_error = var.stream_mapping.bisectOnError
  maximum_retry_attempts         = var.stream_mapping.maximumRetryAttempts
  maximum_record_age_in_seconds  = var.stream_mapping.maximumRecordAge

  destination_config {
    on_failure {
      destination_arn = var.stream_mapping.dead_letter_queue_arn
    }
  }

  tags = { service = var.function.service }
}
