terraform {
  # 1.6: optional() attributes with defaults in module variable types (1.3),
  # lifecycle preconditions (1.2) and variable validations that name other
  # values; the floor is the oldest release still supported upstream.
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
}
