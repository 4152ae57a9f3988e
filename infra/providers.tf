locals {
  # Set when the stack goes to LocalStack or MiniStack instead of AWS.
  emulated = var.endpoint_url != null
}

provider "aws" {
  region = var.region

  # An emulator has no STS behind real credentials, no account to look up and
  # no instance metadata; asking for any of them only slows plans down or
  # fails them. Against AWS all three checks stay on.
  skip_credentials_validation = local.emulated
  skip_requesting_account_id  = local.emulated
  skip_metadata_api_check     = local.emulated

  # One endpoint for every service the stack calls, today (API Gateway v2,
  # DynamoDB, IAM, Lambda, CloudWatch Logs, STS) and in the planned work
  # (EventBridge, SQS, Step Functions, SSM, Secrets Manager, CloudWatch,
  # X-Ray), so a later resource never slips out to real AWS from a local run.
  # Absent entirely when endpoint_url is null: the provider's defaults apply.
  dynamic "endpoints" {
    for_each = local.emulated ? [var.endpoint_url] : []
    content {
      apigatewayv2   = endpoints.value
      cloudwatch     = endpoints.value
      dynamodb       = endpoints.value
      events         = endpoints.value
      iam            = endpoints.value
      lambda         = endpoints.value
      logs           = endpoints.value
      secretsmanager = endpoints.value
      sfn            = endpoints.value
      sqs            = endpoints.value
      ssm            = endpoints.value
      sts            = endpoints.value
      xray           = endpoints.value
    }
  }

  default_tags {
    tags = {
      project    = "shop"
      prefix     = var.name_prefix
      managed_by = "terraform"
    }
  }
}
