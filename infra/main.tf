# The topology (services, tables, functions, routes) is read from the same
# manifests the local deployer reads; nothing about it is written here.
# terraform_test.go evaluates these locals against the manifests, so keep them
# to the few functions it implements (tfFunctions in tfeval_test.go).
locals {
  manifest_dir  = "${path.module}/../functions"
  artifacts_dir = var.artifacts_dir != null ? var.artifacts_dir : "${path.root}/../build/aws"

  # functions/<service>/service.yaml, keyed by the service's directory name
  # (the manifest loader insists that it equals the file's `service`).
  service_manifests = {
    for f in fileset(local.manifest_dir, "*/service.yaml") :
    dirname(f) => yamldecode(file("${local.manifest_dir}/${f}"))
  }

  # functions/<service>/<op>/function.yaml, keyed by path for now.
  function_manifests = {
    for f in fileset(local.manifest_dir, "*/*/function.yaml") :
    f => yamldecode(file("${local.manifest_dir}/${f}"))
  }

  # Every function keyed by its manifest name (<service>-<op>), which is also
  # its artifact's name and the tail of its physical name. Two manifests with
  # one name make this expression fail instead of one silently winning.
  functions = {
    for f, fn in local.function_manifests :
    fn.name => merge(fn, { service = dirname(dirname(f)) })
  }

  # Each service with its table and its own functions: one module instance.
  services = {
    for name, svc in local.service_manifests : name => {
      table     = svc.table
      functions = { for fn_name, fn in local.functions : fn_name => fn if fn.service == name }
    }
  }

  # The API routes of the http functions, keyed by function name.
  http_routes = {
    for name, fn in local.functions : name => {
      service   = fn.service
      route_key = "${fn.http.method} ${fn.http.path}"
      auth      = fn.http.auth
    } if fn.kind == "http"
  }

  # The manifest name of the function of kind authorizer, or null. one()
  # fails the plan if the manifests hold two.
  authorizer = one([for name, fn in local.functions : name if fn.kind == "authorizer"])

  # The token issuer of people and tools rather than services (`make
  # token`), beside the services that sign tokens.
  operator_issuer = "operator"

  # One signing secret per token issuer, keyed by issuer service: every
  # service with a function that signs tokens, and the operator. The name
  # is naming.SigningSecret's.
  signing_secrets = {
    for svc in distinct(concat(
      [local.operator_issuer],
      [for fn in values(local.functions) : fn.service if try(fn.permissions.signingKey, false)],
    )) : svc => "${var.name_prefix}/signing/${svc}"
  }
}

# Token keys. Terraform creates the containers and never their contents: a
# secret version or a real key set here would put private keys in the state
# and let every apply roll them back. infra/keytool writes the keys after
# apply (`make rotate-keys`, see README.md); until then no token can be
# issued or verified.
resource "aws_secretsmanager_secret" "signing" {
  for_each = local.signing_secrets

  name                    = each.value
  description             = "Private token signing keys of issuer ${var.name_prefix}-${each.key}; written by infra/keytool, never by Terraform."
  recovery_window_in_days = var.signing_secret_recovery_window_days
}

resource "aws_ssm_parameter" "jwks" {
  name        = "/${var.name_prefix}/jwks"
  description = "Public keys of every token issuer (a JWKS), which the authorizer and the services verify tokens with; written by infra/keytool."
  type        = "String"
  # A valid key set that verifies nothing, until keytool publishes keys.
  value = jsonencode({ keys = [] })
  # tier stays unset: keytool writes Intelligent-Tiering, so the parameter
  # may outgrow the standard tier, and an unset tier never shows a diff.

  lifecycle {
    # keytool rewrites the value and the description on every edit. A diff
    # in either would make the provider put the value it last read back,
    # which can undo a key published in between.
    ignore_changes = [value, description]
  }
}

module "service" {
  source   = "./modules/service"
  for_each = local.services

  name_prefix         = var.name_prefix
  service             = each.key
  table               = each.value.table
  functions           = each.value.functions
  artifacts_dir       = local.artifacts_dir
  log_retention_days  = var.log_retention_days
  deletion_protection = var.table_deletion_protection

  # Only services that sign tokens have a secret of their own.
  signing_secret_arn = try(aws_secretsmanager_secret.signing[each.key].arn, null)
  jwks_parameter_arn = aws_ssm_parameter.jwks.arn
  # The table of the platform service (naming.PlatformService), which holds
  # the circuit breakers: an output of one of this module's own instances.
  # That is no cycle because the key is a literal: Terraform then follows
  # the reference to that one output, which depends on the table alone. With
  # a computed key it would depend on every output, functions included, and
  # the plan would fail with "Cycle". Null without a platform service: a
  # function asking for breakers then stops the plan.
  breaker_table_arn = try(module.service["platform"].table_arn, null)
}

module "http_api" {
  source = "./modules/http_api"

  name = "${var.name_prefix}-api"
  functions = {
    for name, route in local.http_routes : name => {
      route_key     = route.route_key
      auth          = route.auth
      function_name = module.service[route.service].functions[name].function_name
      invoke_arn    = module.service[route.service].functions[name].invoke_arn
    }
  }
  authorizer = local.authorizer == null ? null : {
    function_name = module.service[local.functions[local.authorizer].service].functions[local.authorizer].function_name
    invoke_arn    = module.service[local.functions[local.authorizer].service].functions[local.authorizer].invoke_arn
  }
  # The stack's one authorizer, named like the local deployer's
  # (localstack/deploy): after the stack, not after its function.
  authorizer_name        = "${var.name_prefix}-authorizer"
  log_retention_days     = var.log_retention_days
  throttling_burst_limit = var.api_throttling_burst_limit
  throttling_rate_limit  = var.api_throttling_rate_limit
}
