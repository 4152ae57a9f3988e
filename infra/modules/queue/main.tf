resource "aws_sqs_queue" "this" {
  name                       = var.queue.name
  visibility_timeout_seconds = var.queue.visibilityTimeout
  message_retention_seconds  = var.queue.messageRetention
  max_message_size           = var.queue.maximumMessageSize
  sqs_managed_sse_enabled    = var.queue.sse

  # A message received maxReceiveCount times without being deleted (its
  # consumer failed it every time) moves to the dead-letter queue instead
  # of coming back forever.
  redrive_policy = var.queue.maxReceiveCount > 0 ? jsonencode({
    deadLetterTargetArn = var.dead_letter_queue_arn
    maxReceiveCount     = var.queue.maxReceiveCount
  }) : null

  # Who may send to the queue besides its account's principals: for an event
  # consumer's queue, EventBridge, for its own rule only (the model's
  # aws:SourceArn condition). Set with the queue rather than as an
  # aws_sqs_queue_policy: the provider waits about 25 s after each change
  # to a queue until SQS reports its attributes steadily, and the functions
  # whose environment holds the queue's URL wait for all of it.
  policy = var.queue.policy == null ? null : jsonencode(var.queue.policy)

  tags = var.tags

  lifecycle {
    precondition {
      condition     = (var.queue.maxReceiveCount > 0) == (var.dead_letter_queue_arn != null)
      error_message = "Queue ${var.queue.name}: a redrive needs both a maxReceiveCount (model: ${var.queue.maxReceiveCount}) and a dead-letter queue."
    }
    # The roles' grants and the mappings' destinations name the queue by
    # the model's ARN, not by this resource's: if the two ever differ,
    # every grant on the queue misses it.
    postcondition {
      condition     = self.arn == var.queue.arn
      error_message = "Queue ${var.queue.name} has ARN ${self.arn}, but the deployment model (and so every policy that grants it) says ${var.queue.arn}."
    }
  }
}
