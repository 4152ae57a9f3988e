terraform {
  # 1.6: optional() attributes in module variable types (1.3), lifecycle
  # pre- and postconditions (1.2) and variable validations that name other
  # values; the floor is the oldest release still supported upstream.
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Every argument and attribute used here exists from 5.100 through
      # 6.x; make test applies with 5.100.0 (.terraform.lock.hcl).
      version = ">= 5.100, < 7.0"
    }
  }
}
