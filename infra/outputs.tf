output "api_url" {
  description = "Base URL of the HTTP API. On an emulator, the path-style URL that works without wildcard DNS."
  # On AWS the $default stage is served at the API endpoint itself; the
  # emulators serve it under /_aws/execute-api/<id>/<stage>.
  value = local.api_url
}

output "api_id" {
  description = "ID of the HTTP API."
  value       = module.http_api.api_id
}

output "table_names" {
  description = "Physical DynamoDB table name per service."
  value       = { for service, t in module.table : service => t.name }
}

output "function_names" {
  description = "Physical Lambda function name per manifest function name."
  value       = { for name, fn in module.function : name => fn.function_name }
}

output "signing_secrets" {
  description = "Secrets Manager secret name per token issuer (service, or operator), for infra/keytool to fill."
  value       = { for issuer, secret in aws_secretsmanager_secret.signing : issuer => secret.name }
}

output "jwks_parameter" {
  description = "SSM parameter holding the public keys of every issuer, for infra/keytool to publish to."
  value       = aws_ssm_parameter.jwks.name
}

output "state_machine_arns" {
  description = "ARN per state machine (<service>-<name>, e.g. orders-saga)."
  value       = { for name, sm in module.state_machine : name => sm.arn }
}

output "payment_provider_secret" {
  description = "Secrets Manager secret holding the payment provider's credentials ({\"apiKey\": \"...\"}): created with a random key when use_payment_simulator is set, the operator's otherwise. Null when no function talks to a payment provider."
  value       = try(local.payment_provider.secret, null)
}
