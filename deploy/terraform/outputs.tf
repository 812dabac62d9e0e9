output "url" {
  description = "Where users go once DNS points domain_name at alb_dns_name."
  value       = "https://${var.domain_name}/"
}

output "alb_dns_name" {
  description = "CNAME / alias target for domain_name."
  value       = module.load_balancer.dns_name
}

output "cluster_name" { value = module.cluster.cluster_name }

output "service_names" {
  value = { for k, s in module.service : k => s.service_name }
}

output "log_groups" {
  value = { for k, s in module.service : k => s.log_group_name }
}

output "queue_names" { value = module.queues.names }
output "dead_letter_queue_names" { value = module.queues.dlq_names }
output "sqs_namespace" { value = local.namespace }
output "bucket_name" { value = module.storage.bucket_name }
output "ecr_repository_urls" { value = module.cluster.ecr_repository_urls }
output "release_task_definition" { value = aws_ecs_task_definition.release.arn }

output "release_command" {
  description = "Runs the one-off migrations task (manage.py release); wait for it before updating services."
  value = join(" ", [
    "aws ecs run-task --cluster", module.cluster.cluster_name,
    "--launch-type FARGATE --task-definition", aws_ecs_task_definition.release.arn,
    "--network-configuration",
    "'awsvpcConfiguration={subnets=[${join(",", module.networking.private_subnet_ids)}],securityGroups=[${aws_security_group.workers.id}],assignPublicIp=DISABLED}'",
  ])
}
