output "api_id" {
  description = "ID of the HTTP API."
  value       = aws_apigatewayv2_api.this.id
}

output "api_endpoint" {
  description = "Invoke URL of the API; the $default stage is served at its root."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "execution_arn" {
  description = "Execution ARN, the prefix of source ARNs in Lambda permissions."
  value       = aws_apigatewayv2_api.this.execution_arn
}
