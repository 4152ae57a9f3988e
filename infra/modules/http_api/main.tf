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

resource "aws_apigatewayv2_route" "this" {
  for_each = var.functions

  api_id    = aws_apigatewayv2_api.this.id
  route_key = each.value.route_key
  target    = "integrations/${aws_apigatewayv2_integration.this[each.key].id}"

  # Only open routes can be deployed until the Lambda authorizer exists.
  authorization_type = "NONE"

  lifecycle {
    # A manifest that asks for `user` or `scope:...` must not become an open
    # route: stop the plan instead.
    precondition {
      condition     = each.value.auth == "none"
      error_message = "Route \"${each.value.route_key}\" (${each.key}) declares auth \"${each.value.auth}\", but no Lambda authorizer is wired into infra/ yet; refusing to deploy it as an open route."
    }
  }
}

resource "aws_lambda_permission" "this" {
  for_each = var.functions

  statement_id  = "AllowHttpApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = each.value.function_name
  principal     = "apigateway.amazonaws.com"
  # Any stage and route of this API, and no other API.
  source_arn = "${aws_apigatewayv2_api.this.execution_arn}/*/*"
}
