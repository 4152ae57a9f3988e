output "arn" {
  description = "ARN of the queue."
  value       = aws_sqs_queue.this.arn
}

output "url" {
  description = "URL of the queue, by which SQS calls name it."
  value       = aws_sqs_queue.this.url
}
