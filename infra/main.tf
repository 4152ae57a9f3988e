# Every fact about the topology (names, keys, settings, environment, IAM
# policies, routes, the authorizer, the token issuers) comes from the one
# deployment model, shared/deployment, rendered into deployment.json by
# `make generate` with placeholders for what only Terraform knows. Nothing
# here derives a name, a policy or a variable of its own: this file and the
# modules map the model onto resources. The model's stack-wide settings (log
# retention, throttling) can be overridden by variables whose null means the
# model's value; what only AWS needs and the model leaves out (deletion
# protection, default tags) is said to be AWS hardening where it is.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  # The placeholders are replaced as text before decoding, exactly as
  # shared/deployment's TestTemplateWithValuesSubstitutedIsTheModel does, so
  # this is the model the local deployer builds for the same values. Route
  # parameters such as {id} are no placeholders and stay as they are.
  model = jsondecode(replace(replace(replace(replace(
    file("${path.module}/deployment.json"),
    "{prefix}", var.name_prefix),
    "{region}", var.region),
    "{account}", data.aws_caller_identity.current.account_id),
    "{partition}", data.aws_partition.current.partition,
  ))

  artifacts_dir = var.artifacts_dir != null ? var.artifacts_dir : "${path.root}/../build/aws"

  tables    = { for t in local.model.tables : t.service => t }
  functions = { for fn in local.model.functions : fn.name => fn }
  issuers   = { for iss in local.model.issuers : iss.service => iss }

  # The model's settings, each overridden by its variable when that is set.
  settings = local.model.settings
  log_retention_days = (var.log_retention_days != null
    ? var.log_retention_days
    : local.settings.logRetentionDays
  )
  throttling = {
    burst = var.api_throttling_burst_limit != null ? var.api_throttling_burst_limit : local.settings.throttling.burst
    rate  = var.api_throttling_rate_limit != null ? var.api_throttling_rate_limit : local.settings.throttling.rate
  }
  password_throttling = {
    burst = var.password_route_throttling_burst_limit != null ? var.password_route_throttling_burst_limit : local.settings.passwordThrottling.burst
    rate  = var.password_route_throttling_rate_limit != null ? var.password_route_throttling_rate_limit : local.settings.passwordThrottling.rate
  }
}

# Token keys. Terraform creates the containers and never their contents: a
# secret version or a real key set here would put private keys in the state
# and let every apply roll them back. infra/keytool writes the keys after
# apply (`make rotate-keys`, see README.md); until then no token can be
# issued or verified.
resource "aws_secretsmanager_secret" "signing" {
  for_each = local.issuers

  name                    = each.value.signingSecret
  description             = each.value.secretDescription
  recovery_window_in_days = var.signing_secret_recovery_window_days
}

resource "aws_ssm_parameter" "jwks" {
  name        = local.model.jwksParameter
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

module "table" {
  source   = "./modules/table"
  for_each = local.tables

  table                  = each.value
  point_in_time_recovery = local.settings.pointInTimeRecovery
  server_side_encryption = local.settings.serverSideEncryption

  # AWS hardening, not in the model: a throwaway stack turns it off.
  deletion_protection = var.table_deletion_protection
}

module "function" {
  source   = "./modules/function"
  for_each = local.functions

  function      = each.value
  artifact      = "${local.artifacts_dir}/${each.key}.zip"
  architecture  = var.architecture
  extra_env     = var.function_environment
  log_retention = local.log_retention_days
  reserved_concurrency = (each.value.hashesPasswords
    ? var.password_function_reserved_concurrency
    : null
  )
}

module "http_api" {
  source = "./modules/http_api"

  api = local.model.api
  routes = {
    for name, fn in local.functions : name => merge(fn.route, {
      function_name = module.function[name].function_name
      invoke_arn    = module.function[name].invoke_arn
      password      = fn.hashesPasswords
    }) if try(fn.route, null) != null
  }
  authorizer = try(local.model.api.authorizer, null) == null ? null : merge(local.model.api.authorizer, {
    function_name = module.function[local.model.api.authorizer.function].function_name
    invoke_arn    = module.function[local.model.api.authorizer.function].invoke_arn
  })

  log_retention_days  = local.log_retention_days
  throttling          = local.throttling
  password_throttling = local.password_throttling
}
