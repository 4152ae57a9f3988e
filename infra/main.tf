# The topology (services, tables, functions, routes) is read from the same
# manifests the local deployer reads; nothing about it is written here.
# terraform_test.go evaluates these locals against the manifests, so keep them
# to the few functions it implements: fileset, file, yamldecode, dirname, merge.
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
  log_retention_days     = var.log_retention_days
  throttling_burst_limit = var.api_throttling_burst_limit
  throttling_rate_limit  = var.api_throttling_rate_limit
}
