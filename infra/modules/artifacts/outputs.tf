output "bucket" {
  description = "Name of the artifacts bucket, once it is private and encrypted: a zip put there waits for both."
  value       = aws_s3_bucket.this.id
  depends_on = [
    aws_s3_bucket_public_access_block.this,
    aws_s3_bucket_ownership_controls.this,
    aws_s3_bucket_server_side_encryption_configuration.this,
  ]
}

output "key_prefix" {
  description = "Where the functions' zips go in the bucket."
  value       = var.artifacts.keyPrefix
}
