# The bucket Terraform delivers the functions' zips through (the model's
# artifacts: shared/deployment.Artifacts). It holds nothing a build cannot
# make again, so destroy empties it.
resource "aws_s3_bucket" "this" {
  bucket        = var.artifacts.bucket
  force_destroy = true
}

# AWS hardening, not in the model: private, owned by the account,
# encrypted at rest. Lambda reads an object with the deploying principal's
# credentials, so no bucket policy is needed.
resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}
