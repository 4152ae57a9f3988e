output "queue_arn" {
  description = "ARN of the consumer's queue, its function's event source."
  value       = module.queue.arn
}

output "queue_url" {
  description = "URL of the consumer's queue (its queueUrl binding)."
  value       = module.queue.url
}

output "dead_letter_queue_url" {
  description = "URL of the consumer's dead-letter queue, where messages its function failed maxReceiveCount times wait."
  value       = module.dead_letter_queue.url
}
