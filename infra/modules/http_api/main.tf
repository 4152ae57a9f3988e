resource "aws_apigatewayv2_api" "this" {
  name          = var.api.name
  protocol_type = "HTTP"
  description   = var.api.description

  # API Gateway answers the browsers' preflights (OPTIONS, before any route
  # or the authorizer) and adds the CORS headers to every response. AWS
  # keeps the header names in lower case; the provider compares them so.
  dynamic "cors_configuration" {
    for_each = var.cors == null ? [] : [var.cors]
    content {
      allow_origins     = cors_configuration.value.allowOrigins
      allow_methods     = cors_configuration.value.allowMethods
      allow_headers     = cors_configuration.value.allowHeaders
      expose_headers    = cors_configuration.value.exposeHeaders
      max_age           = cors_configuration.value.maxAgeSeconds
      allow_credentials = cors_configuration.value.allowCredentials
    }
  }
}

# The access log. The emulator stores the stage's settings but writes no
# access log.
resource "aws_cloudwatch_log_group" "access" {
  name              = var.api.accessLogGroup
  retention_in_days = var.log_retention_days
}

# auto_deploy: every route change is live after apply, with no deployment
# resources to keep in step.
#
# No X-Ray tracing here: HTTP APIs (API Gateway v2) have none, unlike REST
# APIs' tracing_enabled; a trace begins at the function (active tracing,
# modules/function), which continues the X-Amzn-Trace-Id header API Gateway
# passes on. The stage's 5xx rate and latency are watched through its
# CloudWatch metrics instead (modules/observability).
resource "aws_apigatewayv2_stage" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = var.api.stage
  auto_deploy = true

  # One bucket for every route...
  default_route_settings {
    throttling_burst_limit = var.throttling.burst
    throttling_rate_limit  = var.throttling.rate
  }

  # ...and a tighter one for each route whose function hashes passwords
  # (register, login): each request costs an argon2id hash, and login is
  # what a password guesser calls.
  dynamic "route_settings" {
    for_each = { for name, r in var.routes : name => r.routeKey if r.password }
    content {
      route_key              = route_settings.value
      throttling_burst_limit = var.password_throttling.burst
      throttling_rate_limit  = var.password_throttling.rate
    }
  }

  # One JSON line per request (the model's format).
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format          = var.api.accessLogFormat
  }

  # Route settings name routes by key: they must exist first.
  depends_on = [aws_apigatewayv2_route.this]
}

resource "aws_apigatewayv2_integration" "this" {
  for_each = var.routes

  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = each.value.invoke_arn
  payload_format_version = var.api.payloadFormatVersion
}

# The authorizer only authenticates (see the model's Authorizer and
# AuthorizerTTL): its answer depends on the token alone, so caching it per
# Authorization header is right for every route.
resource "aws_apigatewayv2_authorizer" "this" {
  count = var.authorizer == null ? 0 : 1

  api_id                            = aws_apigatewayv2_api.this.id
  name                              = var.authorizer.name
  authorizer_type                   = var.authorizer.type
  authorizer_uri                    = var.authorizer.invoke_arn
  authorizer_payload_format_version = var.authorizer.payloadVersion
  enable_simple_responses           = var.authorizer.simpleResponses
  identity_sources                  = var.authorizer.identitySources
  authorizer_result_ttl_in_seconds  = var.authorizer.ttlSeconds

  lifecycle {
    # A REQUEST authorizer has no JWT configuration; the local emulator
    # reads one back empty, which would show as a change on every plan.
    # Harmless on AWS, where the attribute stays unset.
    ignore_changes = [jwt_configuration]
  }
}

resource "aws_lambda_permission" "authorizer" {
  count = var.authorizer == null ? 0 : 1

  statement_id  = var.authorizer.permissionId
  action        = "lambda:InvokeFunction"
  function_name = var.authorizer.function_name
  principal     = "apigateway.amazonaws.com"
  # This authorizer of this API, and nothing else.
  source_arn = "${aws_apigatewayv2_api.this.execution_arn}/authorizers/${aws_apigatewayv2_authorizer.this[0].id}"
}

resource "aws_apigatewayv2_route" "this" {
  for_each = var.routes

  api_id    = aws_apigatewayv2_api.this.id
  route_key = each.value.routeKey
  target    = "integrations/${aws_apigatewayv2_integration.this[each.key].id}"

  authorization_type = each.value.authorizationType
  authorizer_id      = each.value.authorizationType == "NONE" ? null : one(aws_apigatewayv2_authorizer.this[*].id)

  lifecycle {
    # The model never makes a protected route without an authorizer
    # (manifest.Load refuses it); should it ever, stop the plan rather
    # than deploy the route open.
    precondition {
      condition     = each.value.authorizationType == "NONE" || var.authorizer != null
      error_message = "Route \"${each.value.routeKey}\" (${each.key}) is ${each.value.authorizationType}, but the model has no authorizer; refusing to deploy it open."
    }
  }
}

# API Gateway may invoke each function for its own route only: the model's
# invoke source is "<stage>/<METHOD>/<path with * for parameters>".
resource "aws_lambda_permission" "this" {
  for_each = var.routes

  statement_id  = each.value.permissionId
  action        = "lambda:InvokeFunction"
  function_name = each.value.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/${each.value.invokeSource}"
}
