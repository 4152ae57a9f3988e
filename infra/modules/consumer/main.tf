# EventBridge -> SQS -> Lambda: the rule delivers each matching event to the
# consumer's own queue, whose dead-letter queue takes a message the
# function failed maxReceiveCount times. EventBridge straight to Lambda
# would have no such redelivery: an event the function failed would be
# lost after EventBridge's own retries. The mapping from the queue to the
# function is modules/function's (the function's trigger), so that the
# function's environment can hold this queue's URL without a cycle.

module "dead_letter_queue" {
  source = "../queue"

  queue = var.consumer.deadLetterQueue
  tags  = var.tags
}

module "queue" {
  source = "../queue"

  queue                 = var.consumer.queue
  dead_letter_queue_arn = module.dead_letter_queue.arn
  tags                  = var.tags
}

resource "aws_cloudwatch_event_rule" "this" {
  name           = var.consumer.rule.name
  description    = var.consumer.rule.description
  event_bus_name = var.event_bus_name
  event_pattern  = var.consumer.rule.eventPattern
  tags           = var.tags

  lifecycle {
    # The queue's policy lets EventBridge send for the model's rule ARN
    # only (aws:SourceArn): a rule with another ARN would be refused.
    postcondition {
      condition     = self.arn == var.consumer.rule.arn
      error_message = "Rule ${var.consumer.rule.name} has ARN ${self.arn}, but the deployment model (and so its queue's policy) says ${var.consumer.rule.arn}."
    }
  }
}

resource "aws_cloudwatch_event_target" "this" {
  rule           = aws_cloudwatch_event_rule.this.name
  event_bus_name = var.event_bus_name
  target_id      = var.consumer.rule.targetId
  arn            = module.queue.arn
}
