variable "artifacts" {
  description = "The model's artifacts: the bucket's name and the key prefix of the functions' zips."
  type = object({
    bucket    = string
    keyPrefix = string
  })
}
