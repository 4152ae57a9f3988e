# The state machine's own role: Step Functions may assume it, and it holds
# exactly what the model grants (invoke its steps, deliver its log, trace).
resource "aws_iam_role" "this" {
  name               = var.state_machine.role.name
  description        = var.state_machine.role.description
  assume_role_policy = jsonencode(var.state_machine.role.trust)
  tags               = { service = var.state_machine.service }
}

resource "aws_iam_role_policy" "this" {
  name   = var.state_machine.role.policyName
  role   = aws_iam_role.this.id
  policy = jsonencode(var.state_machine.role.policy)
}

# Made here, with its retention, rather than left to the log delivery.
resource "aws_cloudwatch_log_group" "this" {
  name              = var.state_machine.logGroup
  retention_in_days = var.log_retention
  tags              = { service = var.state_machine.service }
}

resource "aws_sfn_state_machine" "this" {
  name     = var.state_machine.stateMachineName
  type     = var.state_machine.type
  role_arn = aws_iam_role.this.arn
  # The model's definition names each step by its function's ARN; the root
  # module creates the functions first (depends_on), since the definition
  # is text and implies no dependency.
  definition = var.state_machine.definition

  logging_configuration {
    # Step Functions wants the group's ARN with ":*".
    log_destination = "${aws_cloudwatch_log_group.this.arn}:*"
    level           = var.state_machine.logLevel
    # Never the execution data: the inputs carry payment tokens.
    include_execution_data = false
  }

  dynamic "tracing_configuration" {
    for_each = var.send_tracing ? [var.state_machine.tracing] : []
    content {
      enabled = tracing_configuration.value
    }
  }

  tags = { service = var.state_machine.service }

  # Step Functions checks at creation that it may assume the role and
  # deliver the log: the inline policy must be in place first.
  depends_on = [aws_iam_role_policy.this]
}
