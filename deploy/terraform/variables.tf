variable "app_name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "classifier"
}

variable "environment" {
  description = "Environment name (prod, staging, ...): part of every name and of the queue prefix."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,11}$", var.environment))
    error_message = "environment: 2-12 lowercase letters, digits or hyphens (it goes into 32-character ALB names)."
  }
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "domain_name" {
  description = "Host name users reach (ALLOWED_HOSTS, CSRF origin, S3 CORS). Point a DNS record at the alb_dns_name output."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate for domain_name, in this region (issued and validated)."
  type        = string
}

variable "web_image_tag" {
  description = "Tag of the web image in the web ECR repository (build-push.sh prints it)."
  type        = string
}

variable "worker_image_tag" {
  description = "Tag of the worker image in the worker ECR repository."
  type        = string
}

variable "sqs_namespace" {
  description = "Queue name prefix (SQS_NAMESPACE). Empty = <app_name>-<environment>, so environments never share queues."
  type        = string
  default     = ""
}

variable "vpc_cidr" {
  type    = string
  default = "10.40.0.0/16"
}

variable "az_count" {
  type    = number
  default = 2
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all AZs (cheaper) instead of one per AZ (survives an AZ outage)."
  type        = bool
  default     = false
}

variable "db_instance_class" {
  type    = string
  default = "db.t4g.medium"
}

variable "db_engine_version" {
  type    = string
  default = "17"
}

variable "db_allocated_storage_gb" {
  type    = number
  default = 20
}

variable "db_max_allocated_storage_gb" {
  type    = number
  default = 200
}

variable "db_multi_az" {
  type    = bool
  default = true
}

variable "db_backup_retention_days" {
  type    = number
  default = 7
}

variable "deletion_protection" {
  description = "Protect the database and load balancer from deletion (turn off only to tear down)."
  type        = bool
  default     = true
}

variable "secret_recovery_days" {
  description = "Days a deleted secret can be restored (0 = delete at once, for throwaway environments)."
  type        = number
  default     = 7
}

variable "bucket_name" {
  description = "Media bucket name. Empty = <app_name>-<environment>-media-<account id>."
  type        = string
  default     = ""
}

variable "bucket_force_destroy" {
  type    = bool
  default = false
}

variable "log_retention_days" {
  type    = number
  default = 365
}

# --- The same numbers the settings use (kept equal to the queue attributes) ------------
variable "job_time_limit_seconds" {
  description = "JOB_TIME_LIMIT_SECONDS: hard limit of one job message."
  type        = number
  default     = 1800
}

variable "sqs_visibility_margin_seconds" {
  description = "SQS_VISIBILITY_TIMEOUT_SECONDS = job_time_limit_seconds + this (the settings' default margin is 300)."
  type        = number
  default     = 300
}

variable "sqs_max_receives" {
  description = "SQS_MAX_RECEIVES: deliveries before SQS moves a message to its dead-letter queue."
  type        = number
  default     = 3
}

# --- Sizes and scaling knobs ------------------------------------------------------------
variable "web" {
  type = object({
    cpu                 = number
    memory              = number
    min                 = number
    max                 = number
    cpu_target          = number
    requests_per_target = number
    gunicorn_workers    = number
  })
  default = {
    cpu                 = 1024
    memory              = 2048
    min                 = 2
    max                 = 20
    cpu_target          = 60
    requests_per_target = 300
    gunicorn_workers    = 3
  }
}

variable "bulk_worker" {
  description = "Workers of the bulk `inference` queue. backlog_per_task: visible messages (shards) per running task the autoscaler holds."
  type = object({
    cpu              = number
    memory           = number
    min              = number
    max              = number
    cpu_target       = number
    backlog_per_task = number
  })
  default = {
    cpu              = 2048
    memory           = 4096
    min              = 1
    max              = 30
    cpu_target       = 80
    backlog_per_task = 2
  }
}

variable "predict_worker" {
  description = "Workers of the single-image `predict` queue (latency first: a low backlog target)."
  type = object({
    cpu              = number
    memory           = number
    min              = number
    max              = number
    cpu_target       = number
    backlog_per_task = number
  })
  default = {
    cpu              = 2048
    memory           = 4096
    min              = 1
    max              = 10
    cpu_target       = 70
    backlog_per_task = 5
  }
}

variable "stop_timeout_seconds" {
  description = "Seconds ECS waits after SIGTERM before SIGKILL (Fargate: at most 120)."
  type        = number
  default     = 120
}

variable "worker_drain_seconds" {
  description = "Seconds a worker finishes its current message after SIGTERM (--worker-shutdown-timeout); must stay below stop_timeout_seconds."
  type        = number
  default     = 100
}

variable "weights_download" {
  description = "WEIGHTS_DOWNLOAD for workers: 1 lets them fetch CLIP weights into MODEL_CACHE_DIR through the NAT; EfficientNet-Lite0 is baked into the image either way."
  type        = string
  default     = "1"
}

variable "imagenet_model" {
  description = "IMAGENET_MODEL for every service: web and workers must name the same model; the worker image ships efficientnet_lite0's weights."
  type        = string
  default     = "efficientnet_lite0"
}
