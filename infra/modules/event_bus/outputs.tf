output "name" {
  description = "Name of the event bus."
  value       = aws_cloudwatch_event_bus.this.name
}

output "arn" {
  description = "ARN of the event bus."
  value       = aws_cloudwatch_event_bus.this.arn
}

output "archive_name" {
  description = "Name of the bus's archive."
  value       = aws_cloudwatch_event_archive.this.name
}

output "archive_arn" {
  description = "ARN of the bus's archive, the source of a replay."
  value       = aws_cloudwatch_event_archive.this.arn
}
