output "api_url" {
  description = "Base URL of the HTTP API. On an emulator, the path-style URL that works without wildcard DNS."
  # On AWS the $default stage is served at the API endpoint itself; the
  # emulators serve it under /_aws/execute-api/<id>/$default.
  value = local.emulated ? "${trimsuffix(var.endpoint_url, "/")}/_aws/execute-api/${module.http_api.api_id}/$default" : module.http_api.api_endpoint
}

output "api_id" {
  description = "ID of the HTTP API."
  value       = module.http_api.api_id
}

output "table_names" {
  description = "Physical DynamoDB table name per service."
  value       = { for name, svc in module.service : name => svc.table_name }
}

output "function_names" {
  description = "Physical Lambda function name per manifest function name."
  value       = merge([for svc in values(module.service) : { for name, fn in svc.functions : name => fn.function_name }]...)
}
