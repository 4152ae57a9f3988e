resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  protocol_type = "HTTP"
  description   = "Public HTTP API of ${var.name}: one route per http function manifest."
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.name}/access"
  retention_in_days = var.log_retention_days
}

# $default with auto_deploy: every route change is live after apply, with no
# deployment resources to keep in step.
resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = var.throttling_burst_limit
    throttling_rate_limit  = var.throttling_rate_limit
  }

  # One JSON line per request; integrationError carries the reason when the
  # Lambda integration itself fails (timeout, permission, bad response), the
  # case the function's own logs cannot show.
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      requestTime        = "$context.requestTime"
      httpMethod         = "$context.httpMethod"
      path               = "$context.path"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      protocol           = "$context.protocol"
      responseLength     = "$context.responseLength"
      responseLatency    = "$context.responseLatency"
      integrationStatus  = "$context.integrationStatus"
      integrationLatency = "$context.integrationLatency"
      integrationError   = "$context.integrationErrorMessage"
      error              = "$context.error.message"
      authorizerError    = "$context.authorizer.error"
      sourceIp           = "$context.identity.sourceIp"
      userAgent          = "$context.identity.userAgent"
    })
  }
}

resource "aws_apigatewayv2_integration" "this" {
  for_each = var.functions

  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = each.value.invoke_arn
  payload_format_version = "2.0"
}

# The authorizer only authenticates: it verifies the bearer token (issuer,
# audience, expiry, signature against the published keys) and hands the
# principal and its scopes to the function, which enforces the route's own
# level (SHOP_AUTH: user, scope:...). Its answer therefore depends on the
# token alone, so caching it per Authorization header is right for every
# route. A cached allow can outlive the token's expiry by up to the TTL,
# hence the cap of 60 seconds.
resource "aws_apigatewayv2_authorizer" "this" {
  count = var.authorizer == null ? 0 : 1

  api_id                            = aws_apigatewayv2_api.this.id
  name                              = var.authorizer_name
  authorizer_type                   = "REQUEST"
  authorizer_uri                    = var.authorizer.invoke_arn
  authorizer_payload_format_version = "2.0"
  enable_simple_responses           = true
  # With caching on, a request without the header is refused with 401
  # before the authorizer runs.
  identity_sources                 = ["$request.header.Authorization"]
  authorizer_result_ttl_in_seconds = 60
}

resource "aws_lambda_permission" "authorizer" {
  count = var.authorizer == null ? 0 : 1

  statement_id  = "AllowHttpApiAuthorizerInvoke"
  action        = "lambda:InvokeFunction"
  function_name = var.authorizer.function_name
  principal     = "apigateway.amazonaws.com"
  # This authorizer of this API, and nothing else.
  source_arn = "${aws_apigatewayv2_api.this.execution_arn}/authorizers/${aws_apigatewayv2_authorizer.this[0].id}"
}

resource "aws_apigatewayv2_route" "this" {
  for_each = var.functions

  api_id    = aws_apigatewayv2_api.this.id
  route_key = each.value.route_key
  target    = "integrations/${aws_apigatewayv2_integration.this[each.key].id}"

  authorization_type = each.value.auth == "none" ? "NONE" : "CUSTOM"
  authorizer_id      = each.value.auth == "none" ? null : one(aws_apigatewayv2_authorizer.this[*].id)

  lifecycle {
    # A manifest that asks for `user` or `scope:...` must not become an open
    # route: without an authorizer, stop the plan instead.
    precondition {
      condition     = each.value.auth == "none" || var.authorizer != null
      error_message = "Route \"${each.value.route_key}\" (${each.key}) declares auth \"${each.value.auth}\", but the manifests have no function of kind authorizer; refusing to deploy it as an open route."
    }
  }
}

resource "aws_lambda_permission" "this" {
  for_each = var.functions

  statement_id  = "AllowHttpApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = each.value.function_name
  principal     = "apigateway.amazonaws.com"
  # This function's own route, on any stage of this API, and nothing else:
  # route "GET /a/{b}/c" is invoked as <api>/<stage>/GET/a/*/c (the local
  # deployer derives the same from manifest.HTTPTrigger.InvokeResource).
  source_arn = "${aws_apigatewayv2_api.this.execution_arn}/*/${replace(replace(each.value.route_key, " ", ""), "/\\{[^}]*\\}/", "*")}"
}
