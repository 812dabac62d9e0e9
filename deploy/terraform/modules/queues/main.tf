# Exactly the queues the app computes: dramatiq-sqs names a queue "<namespace>_<queue>"
# and its dead-letter queue "<namespace>_<queue>_dlq" (classifier_site/broker.py).
# Visibility timeout and receive count are the same numbers the settings get, because the
# app also sets them on start (RedrivingSQSBroker) and the two must never disagree.

variable "namespace" { type = string }
variable "queues" { type = list(string) }
variable "visibility_timeout_seconds" { type = number }
variable "max_receive_count" { type = number }
variable "retention_seconds" { type = number }
variable "dlq_retention_seconds" { type = number }

resource "aws_sqs_queue" "dlq" {
  for_each                  = toset(var.queues)
  name                      = "${var.namespace}_${each.key}_dlq"
  message_retention_seconds = var.dlq_retention_seconds
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "main" {
  for_each                   = toset(var.queues)
  name                       = "${var.namespace}_${each.key}"
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.retention_seconds
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = var.max_receive_count
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each  = toset(var.queues)
  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.main[each.key].arn]
  })
}

output "names" { value = { for q, r in aws_sqs_queue.main : q => r.name } }
output "arns" { value = { for q, r in aws_sqs_queue.main : q => r.arn } }
output "dlq_names" { value = { for q, r in aws_sqs_queue.dlq : q => r.name } }
output "dlq_arns" { value = { for q, r in aws_sqs_queue.dlq : q => r.arn } }
