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
  model = jsondecode(replace(replace(replace(replace(replace(
    file("${path.module}/deployment.json"),
    "{paymentProviderSecret}", local.payment_provider_secret),
    "{prefix}", var.name_prefix),
    "{region}", var.region),
    "{account}", data.aws_caller_identity.current.account_id),
    "{partition}", data.aws_partition.current.partition,
  ))
  # naming.PaymentProviderSecret: the model's default for a null variable.
  payment_provider_secret = (var.payment_provider_secret_name != null
    ? var.payment_provider_secret_name
    : "${var.name_prefix}/payment-provider"
  )

  artifacts_dir = var.artifacts_dir != null ? var.artifacts_dir : "${path.root}/../build/aws"

  # localOnly tables and functions are the payment provider's simulator:
  # deployed only with use_payment_simulator.
  tables         = { for t in local.model.tables : t.service => t if !t.localOnly || var.use_payment_simulator }
  functions      = { for fn in local.model.functions : fn.name => fn if !fn.localOnly || var.use_payment_simulator }
  issuers        = { for iss in local.model.issuers : iss.service => iss }
  state_machines = { for sm in local.model.stateMachines : sm.name => sm }

  payment_provider = try(local.model.paymentProvider, null)

  # Events: the bus (null when nothing publishes or ingests), the event
  # consumers (kind event) and the outbox relays (kind stream), by
  # function, with the service each belongs to.
  event_bus       = try(local.model.eventBus, null)
  consumers       = { for name, fn in local.functions : name => fn if try(fn.consumer, null) != null }
  relays          = { for name, fn in local.functions : name => fn if try(fn.relay, null) != null }
  event_functions = merge(local.consumers, local.relays)
  # A relay names its table; the tables are keyed by service.
  table_services = { for service, t in local.tables : t.name => service }

  # The values of the functions' bindings (deployment.Function.Bindings),
  # which exist only once the stack does. The API's URL comes from the
  # aws_apigatewayv2_api resource alone (module.http_api.api_id and
  # api_endpoint), which depends on no function: the routes and
  # integrations that do depend on the functions are separate resources,
  # so functions -> API URL -> routes has no cycle.
  api_url = (local.emulated
    ? "${trimsuffix(var.endpoint_url, "/")}/_aws/execute-api/${module.http_api.api_id}/${local.model.api.stage}"
    : module.http_api.api_endpoint
  )
  binding_values = {
    apiUrl = local.api_url
    paymentProviderUrl = (var.use_payment_simulator && local.payment_provider != null
      ? "${local.api_url}${try(local.payment_provider.simulatorPath, "")}"
      : var.payment_provider_url
    )
  }
  # The bindings only an event consumer or a relay has: the URL of its own
  # queue (a consumer's) or dead-letter queue (a relay's). No cycle either:
  # the queues depend on no function, and the event source mappings that
  # name both are modules/function's own resources.
  queue_binding_values = merge(
    { for name, c in module.consumer : name => { queueUrl = c.queue_url } },
    { for name, q in module.relay_dead_letter_queue : name => { deadLetterQueueUrl = q.url } },
  )

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

# The bucket the functions' zips go through (modules/function puts each
# one there and creates the function from it).
module "artifacts" {
  source    = "./modules/artifacts"
  artifacts = local.model.artifacts
}

module "function" {
  source   = "./modules/function"
  for_each = { for name, fn in local.functions : name => fn if !contains(keys(local.event_functions), name) }

  function            = each.value
  artifact            = "${local.artifacts_dir}/${each.key}.zip"
  artifact_bucket     = module.artifacts.bucket
  artifact_key_prefix = module.artifacts.key_prefix
  architecture        = var.architecture
  extra_env           = var.function_environment
  bindings            = { for variable, binding in try(each.value.bindings, {}) : variable => local.binding_values[binding] }
  log_retention       = local.log_retention_days
  reserved_concurrency = (each.value.hashesPasswords
    ? var.password_function_reserved_concurrency
    : null
  )

  depends_on = [terraform_data.payment_provider]
}

# Event consumers and outbox relays: the same module in a call of its own,
# since each one's environment holds the URL of its own queue and its
# trigger names the queue or the stream. A module call's arguments are
# evaluated for all its instances at once, after everything they name: in
# the call above, every function would wait for every queue (the provider
# waits about 25 s after creating a queue until SQS reports its attributes
# steadily, and a consumer's queue follows its dead-letter queue). A
# binding the model names but the function lacks fails the plan (an
# unknown key) rather than deploying an empty variable.
module "event_function" {
  source   = "./modules/function"
  for_each = local.event_functions

  function            = each.value
  artifact            = "${local.artifacts_dir}/${each.key}.zip"
  artifact_bucket     = module.artifacts.bucket
  artifact_key_prefix = module.artifacts.key_prefix
  architecture        = var.architecture
  extra_env           = var.function_environment
  bindings = { for variable, binding in try(each.value.bindings, {}) : variable => merge(
    local.binding_values, local.queue_binding_values[each.key],
  )[binding] }
  log_retention        = local.log_retention_days
  reserved_concurrency = null # only password-hashing http functions get any

  queue_mapping = (contains(keys(local.consumers), each.key)
    ? merge(each.value.consumer.mapping, { queue_arn = module.consumer[each.key].queue_arn })
    : null
  )
  stream_mapping = (contains(keys(local.relays), each.key)
    ? merge(each.value.relay, {
      stream_arn            = module.table[local.table_services[each.value.relay.table]].stream_arn
      dead_letter_queue_arn = module.relay_dead_letter_queue[each.key].arn
    })
    : null
  )

  depends_on = [terraform_data.payment_provider]
}

# Events: the bus and its archive (modules/event_bus); per consumer its
# rule and its queue with a dead-letter queue (modules/consumer); per relay
# its dead-letter queue. Each function's trigger, from its queue or from
# its table's stream (which modules/table turns on where the model says),
# is modules/function's (module.event_function).
module "event_bus" {
  source = "./modules/event_bus"
  count  = local.event_bus == null ? 0 : 1

  event_bus = local.event_bus
  archive_retention_days = (var.event_archive_retention_days != null
    ? var.event_archive_retention_days
    : local.event_bus.archive.retentionDays
  )
}

module "consumer" {
  source   = "./modules/consumer"
  for_each = local.consumers

  consumer = each.value.consumer
  # The model has a bus whenever it has a consumer (every consumed type has
  # a producer); one() of no bus is null, which modules/consumer refuses.
  event_bus_name = one(module.event_bus[*].name)
  tags           = { service = each.value.service }
}

module "relay_dead_letter_queue" {
  source   = "./modules/queue"
  for_each = local.relays

  queue = each.value.relay.deadLetterQueue
  tags  = { service = each.value.service }
}

module "state_machine" {
  source   = "./modules/state_machine"
  for_each = local.state_machines

  state_machine = each.value
  log_retention = local.log_retention_days
  # MiniStack 1.5.33 keeps no tracing configuration and describes none, so
  # against an emulator the block would show as a change in every plan.
  send_tracing = !local.emulated

  # The definition names its steps by ARN, as text: no implicit dependency.
  depends_on = [module.function]
}

# The payment provider. Its URL and the name of its credentials secret are
# the model's bindings and placeholder; what Terraform does with them
# depends on use_payment_simulator.
#
# With the simulator (a test stack), Terraform deploys the localOnly
# service and creates the secret with a random key. The key lands in the
# state: acceptable for a simulator, whose key guards nothing but a test
# double on the same stack.
#
# Without it (a real provider), the secret is the operator's: Terraform
# only names it (payment_provider_secret_name), grants the functions
# GetSecretValue on it, and never reads it, so a real key never enters the
# state and the operator rotates it without an apply. A data source lookup
# would fail the plan early on a missing secret, but would tie every plan to
# read access on it; the payments functions report a missing secret at
# their first charge instead.
resource "terraform_data" "payment_provider" {
  input = local.binding_values.paymentProviderUrl

  lifecycle {
    precondition {
      condition     = local.payment_provider == null || var.use_payment_simulator || var.payment_provider_url != null
      error_message = "payment_provider_url is required: the model has a payment provider (functions with permissions.paymentProvider) and use_payment_simulator is false. Set it to the provider's base URL, or set use_payment_simulator = true for a test stack."
    }
  }
}

resource "aws_secretsmanager_secret" "payment_provider" {
  count = var.use_payment_simulator && local.payment_provider != null ? 1 : 0

  name                    = local.payment_provider.secret
  description             = local.payment_provider.secretDescription
  recovery_window_in_days = var.signing_secret_recovery_window_days
}

# Read once at creation: the data source draws a new password on every
# plan, which ignore_changes keeps from rewriting the secret (and from
# leaving a plan that never empties).
data "aws_secretsmanager_random_password" "payment_simulator" {
  count = var.use_payment_simulator && local.payment_provider != null ? 1 : 0

  password_length     = 48
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret_version" "payment_provider" {
  count = var.use_payment_simulator && local.payment_provider != null ? 1 : 0

  secret_id     = aws_secretsmanager_secret.payment_provider[0].id
  secret_string = jsonencode({ apiKey = data.aws_secretsmanager_random_password.payment_simulator[0].random_password })

  lifecycle {
    ignore_changes = [secret_string]
  }
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

  # The model's CORS configuration with the operator's origins; none without.
  cors = (length(var.cors_allowed_origins) == 0 ? null
    : merge(local.model.api.cors, { allowOrigins = var.cors_allowed_origins })
  )

  log_retention_days  = local.log_retention_days
  throttling          = local.throttling
  password_throttling = local.password_throttling
}

# Alarms, their topic, the dashboard and the X-Ray sampling rules, all the
# model's (modules/observability). The functions and the state machine
# trace actively (modules/function's tracing_config, modules/state_machine);
# the HTTP API cannot (modules/http_api says why).
module "observability" {
  source = "./modules/observability"

  observability  = local.model.observability
  api_id         = module.http_api.api_id
  subscribers    = var.alarm_subscribers
  sampling_rules = var.xray_sampling_rules
  emulated       = local.emulated
}
