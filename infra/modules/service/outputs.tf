output "table_name" {
  description = "Physical name of the service's table."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "ARN of the service's table."
  value       = aws_dynamodb_table.this.arn
}

output "functions" {
  description = "Per manifest name: the function's physical name, ARN and API Gateway invoke ARN."
  value = {
    for name, fn in aws_lambda_function.this : name => {
      function_name = fn.function_name
      arn           = fn.arn
      invoke_arn    = fn.invoke_arn
    }
  }
}
