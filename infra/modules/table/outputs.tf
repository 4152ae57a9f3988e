output "name" {
  description = "Physical name of the table."
  value       = aws_dynamodb_table.this.name
}

output "arn" {
  description = "ARN of the table."
  value       = aws_dynamodb_table.this.arn
}

output "stream_arn" {
  description = "ARN of the table's stream; empty when the model gives the table none."
  value       = aws_dynamodb_table.this.stream_arn
}
