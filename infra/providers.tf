locals {
  # Set when the stack goes to LocalStack or MiniStack instead of AWS.
  emulated = var.endpoint_url != null
}

provider "aws" {
  region = var.region

  # An emulator has no instance metadata, and a look-up would leave the
  # machine. STS it does answer, so the account lookup stays on: every ARN
  # of the model holds the account (data.aws_caller_identity in main.tf).
  skip_metadata_api_check = local.emulated

  # An emulator serves every bucket at its one endpoint, by path
  # (http://127.0.0.1:4566/<bucket>/<key>), not as <bucket>.<host>.
  s3_use_path_style = local.emulated

  # One endpoint for every service the stack calls (API Gateway v2,
  # DynamoDB, IAM, Lambda, CloudWatch Logs, S3, Secrets Manager, SSM, STS,
  # EventBridge, SQS, Step Functions, CloudWatch, SNS, and X-Ray, whose
  # sampling rules are off against an emulator), so no resource ever slips
  # out to real AWS from a local run.
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
      s3             = endpoints.value
      secretsmanager = endpoints.value
      sns            = endpoints.value
      sfn            = endpoints.value
      sqs            = endpoints.value
      ssm            = endpoints.value
      sts            = endpoints.value
      xray           = endpoints.value
    }
  }

  # AWS hardening: every resource says whose it is and which stack it
  # belongs to (cost allocation, clean-up). Not part of the model.
  default_tags {
    tags = {
      project    = "shop"
      prefix     = var.name_prefix
      managed_by = "terraform"
    }
  }
}
