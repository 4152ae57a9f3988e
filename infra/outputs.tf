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
  value       = { for name, fn in merge(module.function, module.event_function) : name => fn.function_name }
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

output "event_bus_name" {
  description = "Name of the stack's event bus, where the relays and the ingest endpoint put events (and other systems may, with IAM). Null when nothing publishes."
  value       = one(module.event_bus[*].name)
}

output "event_bus_arn" {
  description = "ARN of the stack's event bus. Null when nothing publishes."
  value       = one(module.event_bus[*].arn)
}

output "event_archive_arn" {
  description = "ARN of the event bus's archive (every event, for replay: make replay). Null when nothing publishes."
  value       = one(module.event_bus[*].archive_arn)
}

output "dead_letter_queue_urls" {
  description = "URL of each event consumer's and each relay's dead-letter queue, by manifest function name: where events their function could not handle wait to be looked into and redriven."
  value = merge(
    { for name, c in module.consumer : name => c.dead_letter_queue_url },
    { for name, q in module.relay_dead_letter_queue : name => q.url },
  )
}

output "alarm_topic_arn" {
  description = "ARN of the SNS topic every alarm notifies (subscribe more with alarm_subscribers)."
  value       = module.observability.topic_arn
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard of the stack."
  value       = module.observability.dashboard_name
}
