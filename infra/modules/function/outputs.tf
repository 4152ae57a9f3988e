output "function_name" {
  description = "Physical name of the function."
  value       = aws_lambda_function.this.function_name
}

output "invoke_arn" {
  description = "ARN API Gateway invokes the function by."
  value       = aws_lambda_function.this.invoke_arn
}
