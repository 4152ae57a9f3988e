# The stack's custom bus: the relays and the ingest endpoint put events on
# it, and each consumer's rule takes its share to the consumer's queue.
resource "aws_cloudwatch_event_bus" "this" {
  name        = var.event_bus.name
  description = var.event_bus.description

  lifecycle {
    # The publishers' grants (to put events) and the rules' ARNs name
    # the bus by the model's ARN.
    postcondition {
      condition     = self.arn == var.event_bus.arn
      error_message = "Event bus ${var.event_bus.name} has ARN ${self.arn}, but the deployment model (and so every grant to put events on it) says ${var.event_bus.arn}."
    }
  }
}

# Every event the bus receives (no pattern), kept for replay: `make replay`
# sends a window of it back onto the bus, to the consumers, which ignore
# what they have handled already.
resource "aws_cloudwatch_event_archive" "this" {
  name             = var.event_bus.archive.name
  description      = var.event_bus.archive.description
  event_source_arn = aws_cloudwatch_event_bus.this.arn
  retention_days   = var.archive_retention_days

  lifecycle {
    postcondition {
      condition     = self.arn == var.event_bus.archive.arn
      error_message = "Archive ${var.event_bus.archive.name} has ARN ${self.arn}, but the deployment model says ${var.event_bus.archive.arn}."
    }
  }
}
