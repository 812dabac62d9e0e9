# One ECS service on Fargate: its task role, log group, task definition, service and
# autoscaling. The web, the two workers and the sweeper are four instances of it.

variable "name" { type = string }
variable "cluster_name" { type = string }
variable "cluster_arn" { type = string }
variable "image" { type = string }
variable "command" { type = list(string) }
variable "cpu" { type = number }
variable "memory" { type = number }
variable "environment" { type = map(string) }
variable "secrets" { type = map(string) }
variable "execution_role_arn" { type = string }
variable "assume_role_policy" { type = string }
variable "task_policy_json" { type = string }
variable "subnet_ids" { type = list(string) }
variable "security_group_ids" { type = list(string) }
variable "log_retention_days" { type = number }
variable "stop_timeout" {
  type        = number
  description = "Seconds ECS waits after SIGTERM before SIGKILL (Fargate allows at most 120)."
  validation {
    condition     = var.stop_timeout >= 2 && var.stop_timeout <= 120
    error_message = "Fargate's stop timeout is 2 to 120 seconds."
  }
}
variable "container_port" {
  type    = number
  default = null
}
variable "target_group_arn" {
  type    = string
  default = null
}
variable "desired_count" { type = number }
variable "min_count" { type = number }
variable "max_count" { type = number }
variable "scaling" {
  description = "none | web | queue"
  type        = string
  validation {
    condition     = contains(["none", "web", "queue"], var.scaling)
    error_message = "scaling is none, web or queue."
  }
}
variable "cpu_target_percent" {
  type    = number
  default = 70
}
variable "requests_per_target" {
  type    = number
  default = 0
}
variable "alb_resource_label" {
  type    = string
  default = ""
}
variable "queue_name" {
  type    = string
  default = ""
}
variable "backlog_per_task" {
  type    = number
  default = 0
}
variable "scale_in_cooldown" {
  type    = number
  default = 300
}
variable "scale_out_cooldown" {
  type    = number
  default = 60
}

data "aws_region" "current" {}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/ecs/${var.cluster_name}/${var.name}"
  retention_in_days = var.log_retention_days
  #checkov:skip=CKV_AWS_158:Application logs carry no secrets; the AWS-owned key encrypts them at rest.
}

resource "aws_iam_role" "task" {
  name               = "${var.cluster_name}-${var.name}-task"
  assume_role_policy = var.assume_role_policy
}

resource "aws_iam_role_policy" "task" {
  name   = "app-calls"
  role   = aws_iam_role.task.id
  policy = var.task_policy_json
}

locals {
  container = merge(
    {
      name      = "app"
      image     = var.image
      essential = true
      command   = var.command
      # Sorted, so a plan shows no change when nothing changed.
      environment = [for k in sort(keys(var.environment)) : { name = k, value = var.environment[k] }]
      secrets     = [for k in sort(keys(var.secrets)) : { name = k, valueFrom = var.secrets[k] }]
      stopTimeout = var.stop_timeout
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.this.name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = var.name
        }
      }
    },
    var.container_port == null ? {} : {
      portMappings = [{ containerPort = var.container_port, protocol = "tcp" }]
    },
  )
}

resource "aws_ecs_task_definition" "this" {
  family                   = "${var.cluster_name}-${var.name}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = jsonencode([local.container])
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
  #checkov:skip=CKV_AWS_336:The image runs as a non-root user that owns only its cache and media folders; torch and gunicorn need a writable /tmp.
}

resource "aws_ecs_service" "this" {
  name                               = var.name
  cluster                            = var.cluster_arn
  task_definition                    = aws_ecs_task_definition.this.arn
  desired_count                      = var.desired_count
  launch_type                        = "FARGATE"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  enable_execute_command             = false
  propagate_tags                     = "SERVICE"
  health_check_grace_period_seconds  = var.target_group_arn == null ? null : 60

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = var.target_group_arn == null ? [] : [var.target_group_arn]
    content {
      target_group_arn = load_balancer.value
      container_name   = "app"
      container_port   = var.container_port
    }
  }

  lifecycle {
    # Autoscaling owns the count once the service exists.
    ignore_changes = [desired_count]
  }
}

resource "aws_appautoscaling_target" "this" {
  count              = var.scaling == "none" ? 0 : 1
  service_namespace  = "ecs"
  resource_id        = "service/${var.cluster_name}/${aws_ecs_service.this.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_count
  max_capacity       = var.max_count
}

# Every scaled service also tracks CPU: for the web the main signal, for a worker the
# fallback when the backlog metric is missing or stale.
resource "aws_appautoscaling_policy" "cpu" {
  count              = var.scaling == "none" ? 0 : 1
  name               = "${var.name}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  resource_id        = aws_appautoscaling_target.this[0].resource_id
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension
  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target_percent
    scale_in_cooldown  = var.scale_in_cooldown
    scale_out_cooldown = var.scale_out_cooldown
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "requests" {
  count              = var.scaling == "web" ? 1 : 0
  name               = "${var.name}-requests"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  resource_id        = aws_appautoscaling_target.this[0].resource_id
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension
  target_tracking_scaling_policy_configuration {
    target_value       = var.requests_per_target
    scale_in_cooldown  = var.scale_in_cooldown
    scale_out_cooldown = var.scale_out_cooldown
    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = var.alb_resource_label
    }
  }
}

# Backlog per task = visible messages / running tasks (metric math), held at the target:
# 40 messages over 4 tasks with a target of 2 asks for 20 tasks.
resource "aws_appautoscaling_policy" "backlog" {
  count              = var.scaling == "queue" ? 1 : 0
  name               = "${var.name}-backlog-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  resource_id        = aws_appautoscaling_target.this[0].resource_id
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension
  target_tracking_scaling_policy_configuration {
    target_value       = var.backlog_per_task
    scale_in_cooldown  = var.scale_in_cooldown
    scale_out_cooldown = var.scale_out_cooldown
    customized_metric_specification {
      metrics {
        id          = "visible"
        return_data = false
        metric_stat {
          stat = "Sum"
          metric {
            namespace   = "AWS/SQS"
            metric_name = "ApproximateNumberOfMessagesVisible"
            dimensions {
              name  = "QueueName"
              value = var.queue_name
            }
          }
        }
      }
      metrics {
        id          = "running"
        return_data = false
        metric_stat {
          stat = "Average"
          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"
            dimensions {
              name  = "ClusterName"
              value = var.cluster_name
            }
            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.this.name
            }
          }
        }
      }
      metrics {
        id          = "backlog_per_task"
        label       = "visible messages per running task"
        expression  = "visible / IF(running > 0, running, 1)"
        return_data = true
      }
    }
  }
}

output "service_name" { value = aws_ecs_service.this.name }
output "task_definition_arn" { value = aws_ecs_task_definition.this.arn }
output "task_role_arn" { value = aws_iam_role.task.arn }
output "log_group_name" { value = aws_cloudwatch_log_group.this.name }
