# The classifier on AWS: VPC, private media bucket, PostgreSQL, the app's SQS queues,
# an HTTPS load balancer and four ECS services (web, bulk worker, predict worker,
# sweeper) plus a one-off `release` task for migrations. docs/deploy.md walks through it.

data "aws_caller_identity" "current" {}

locals {
  name      = "${var.app_name}-${var.environment}"
  namespace = var.sqs_namespace != "" ? var.sqs_namespace : local.name
  # The app's queues (classifier_site/broker.py): bulk jobs, single-image predictions,
  # and `default` (the jobs_sweep actor, for an external scheduler).
  queues             = ["inference", "predict", "default"]
  visibility_timeout = var.job_time_limit_seconds + var.sqs_visibility_margin_seconds
  bucket_name        = var.bucket_name != "" ? var.bucket_name : "${local.name}-media-${data.aws_caller_identity.current.account_id}"
  web_port           = 8000

  # Environment every process gets; each name is read by classifier_site/settings.py
  # (deploy/tests check both directions).
  common_env = {
    DEBUG                          = "0"
    EMBEDDED                       = "0"
    ALLOWED_HOSTS                  = var.domain_name
    CSRF_TRUSTED_ORIGINS           = "https://${var.domain_name}"
    AWS_REGION                     = var.region
    S3_BUCKET                      = module.storage.bucket_name
    BROKER_URL                     = "sqs://"
    SQS_NAMESPACE                  = local.namespace
    JOB_TIME_LIMIT_SECONDS         = tostring(var.job_time_limit_seconds)
    SQS_VISIBILITY_TIMEOUT_SECONDS = tostring(local.visibility_timeout)
    SQS_MAX_RECEIVES               = tostring(var.sqs_max_receives)
    CACHE_BACKEND                  = "database"
    LOG_FORMAT                     = "json"
    IMAGENET_MODEL                 = var.imagenet_model
  }
  common_secrets = {
    SECRET_KEY   = module.cluster.secret_arns["SECRET_KEY"]
    DATABASE_URL = module.database.database_url_secret_arn
  }
  web_env = merge(local.common_env, {
    # One proxy (the ALB) sits in front: throttles key on the client address it forwards.
    TRUSTED_PROXY_COUNT = "1"
    WEB_CONCURRENCY     = tostring(var.web.gunicorn_workers)
  })
  worker_env = merge(local.common_env, {
    WEIGHTS_DOWNLOAD = var.weights_download
  })

  web_image    = "${module.cluster.ecr_repository_urls["web"]}:${var.web_image_tag}"
  worker_image = "${module.cluster.ecr_repository_urls["worker"]}:${var.worker_image_tag}"

  worker_command = [
    "python", "manage.py", "rundramatiq", "--processes", "1", "--threads", "1",
    "--worker-shutdown-timeout", tostring(var.worker_drain_seconds * 1000), "--queues",
  ]
}

check "drain_fits_stop_timeout" {
  assert {
    condition     = var.worker_drain_seconds < var.stop_timeout_seconds
    error_message = "worker_drain_seconds must be below stop_timeout_seconds, or ECS kills workers mid-drain."
  }
}

module "networking" {
  source                  = "./modules/networking"
  name                    = local.name
  cidr                    = var.vpc_cidr
  az_count                = var.az_count
  single_nat_gateway      = var.single_nat_gateway
  flow_log_retention_days = var.log_retention_days
}

module "storage" {
  source                 = "./modules/storage"
  bucket_name            = local.bucket_name
  cors_allowed_origins   = ["https://${var.domain_name}"]
  incoming_expiry_days   = 1
  noncurrent_expiry_days = 30
  force_destroy          = var.bucket_force_destroy
}

module "queues" {
  source                     = "./modules/queues"
  namespace                  = local.namespace
  queues                     = local.queues
  visibility_timeout_seconds = local.visibility_timeout
  max_receive_count          = var.sqs_max_receives
  retention_seconds          = 4 * 24 * 3600
  dlq_retention_seconds      = 14 * 24 * 3600
}

module "database" {
  source                    = "./modules/database"
  name                      = local.name
  vpc_id                    = module.networking.vpc_id
  subnet_ids                = module.networking.private_subnet_ids
  client_security_group_ids = { web = aws_security_group.web.id, workers = aws_security_group.workers.id }
  instance_class            = var.db_instance_class
  engine_version            = var.db_engine_version
  allocated_storage_gb      = var.db_allocated_storage_gb
  max_allocated_storage_gb  = var.db_max_allocated_storage_gb
  multi_az                  = var.db_multi_az
  backup_retention_days     = var.db_backup_retention_days
  deletion_protection       = var.deletion_protection
  secret_recovery_days      = var.secret_recovery_days
}

module "load_balancer" {
  source               = "./modules/load_balancer"
  name                 = local.name
  vpc_id               = module.networking.vpc_id
  subnet_ids           = module.networking.public_subnet_ids
  certificate_arn      = var.certificate_arn
  container_port       = local.web_port
  deletion_protection  = var.deletion_protection
  idle_timeout         = 60
  deregistration_delay = 30
}

module "cluster" {
  source                  = "./modules/cluster"
  name                    = local.name
  secret_recovery_days    = var.secret_recovery_days
  database_url_secret_arn = module.database.database_url_secret_arn
  ecr_keep_images         = 30
}

# --- Security groups: the web takes traffic only from the ALB; workers take none. -------
resource "aws_security_group" "web" {
  name        = "${local.name}-web"
  description = "Web tasks: HTTP from the load balancer only"
  vpc_id      = module.networking.vpc_id
  #checkov:skip=CKV2_AWS_5:Attached to the web service through module.service (a for_each the graph check does not follow).
}

resource "aws_security_group" "workers" {
  name        = "${local.name}-workers"
  description = "Worker, sweeper and release tasks: no inbound traffic"
  vpc_id      = module.networking.vpc_id
  #checkov:skip=CKV2_AWS_5:Attached to the worker and sweeper services through module.service and to the release task at run-task time.
}

resource "aws_vpc_security_group_ingress_rule" "web_from_alb" {
  security_group_id            = aws_security_group.web.id
  referenced_security_group_id = module.load_balancer.security_group_id
  ip_protocol                  = "tcp"
  from_port                    = local.web_port
  to_port                      = local.web_port
  description                  = "gunicorn from the ALB"
}

resource "aws_vpc_security_group_egress_rule" "https_out" {
  for_each          = { web = aws_security_group.web.id, workers = aws_security_group.workers.id }
  security_group_id = each.value
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  description       = "AWS APIs (SQS, S3, ECR, Logs, Secrets Manager) and weight downloads"
}

resource "aws_vpc_security_group_egress_rule" "postgres_out" {
  for_each          = { web = aws_security_group.web.id, workers = aws_security_group.workers.id }
  security_group_id = each.value
  cidr_ipv4         = var.vpc_cidr
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
  description       = "PostgreSQL inside the VPC"
}

# --- Task roles: exactly the calls the code makes -----------------------------------------
# dramatiq-sqs on start: GetQueueUrl for the queue and its _dlq, GetQueueAttributes (the
# DLQ's ARN), SetQueueAttributes (RedrivingSQSBroker re-applies visibility + redrive).
# Enqueue (and Retries' delayed re-enqueue): SendMessage. Consume: ReceiveMessage,
# DeleteMessage (ack), ChangeMessageVisibility (requeue on shutdown), SendMessage to the
# DLQ (nack). /health and /metrics: GetQueueAttributes.
locals {
  q = module.queues.arns
  d = module.queues.dlq_arns
}

data "aws_iam_policy_document" "web" {
  statement {
    sid       = "DeclareQueues"
    actions   = ["sqs:GetQueueUrl", "sqs:GetQueueAttributes"]
    resources = [local.q.inference, local.q.predict, local.d.inference, local.d.predict]
  }
  statement {
    sid       = "EnqueueJobsAndPredictions"
    actions   = ["sqs:SendMessage", "sqs:SetQueueAttributes"]
    resources = [local.q.inference, local.q.predict]
  }
  # /health: HeadBucket; storage.exists() before a save: HeadObject, which answers 404
  # rather than 403 only with ListBucket.
  statement {
    sid       = "Bucket"
    actions   = ["s3:ListBucket"]
    resources = [module.storage.bucket_arn]
  }
  # Uploads and thumbnails are written, served (presigned GET) and deleted by the web;
  # incoming/ is signed for direct browser POSTs, then read and deleted on finalize.
  statement {
    sid     = "MediaObjects"
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [
      "${module.storage.bucket_arn}/uploads/*",
      "${module.storage.bucket_arn}/thumbnails/*",
      "${module.storage.bucket_arn}/incoming/*",
    ]
  }
}

data "aws_iam_policy_document" "worker" {
  for_each = toset(["inference", "predict"])
  statement {
    sid       = "DeclareQueue"
    actions   = ["sqs:GetQueueUrl", "sqs:GetQueueAttributes"]
    resources = [local.q[each.key], local.d[each.key]]
  }
  statement {
    sid = "ConsumeQueue"
    actions = [
      "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
      "sqs:SendMessage", "sqs:SetQueueAttributes",
    ]
    resources = [local.q[each.key]]
  }
  statement {
    sid       = "DeadLetter"
    actions   = ["sqs:SendMessage"]
    resources = [local.d[each.key]]
  }
  # Workers only read the stored originals; ListBucket (on that prefix) turns a missing
  # object into NoSuchKey, which fails the image, instead of AccessDenied, which retries.
  statement {
    sid       = "ListUploads"
    actions   = ["s3:ListBucket"]
    resources = [module.storage.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["uploads/*"]
    }
  }
  statement {
    sid       = "ReadUploads"
    actions   = ["s3:GetObject"]
    resources = ["${module.storage.bucket_arn}/uploads/*"]
  }
}

data "aws_iam_policy_document" "sweeper" {
  statement {
    sid       = "DeclareQueues"
    actions   = ["sqs:GetQueueUrl", "sqs:GetQueueAttributes"]
    resources = [local.q.inference, local.q.predict, local.d.inference, local.d.predict]
  }
  statement {
    sid       = "Redispatch"
    actions   = ["sqs:SendMessage", "sqs:SetQueueAttributes"]
    resources = [local.q.inference, local.q.predict]
  }
}

# --- Services -----------------------------------------------------------------------------
locals {
  services = {
    web = {
      image     = local.web_image
      command   = ["gunicorn", "--config", "deploy/gunicorn.conf.py", "classifier_site.wsgi"]
      cpu       = var.web.cpu
      memory    = var.web.memory
      env       = local.web_env
      secrets   = merge(local.common_secrets, { METRICS_TOKEN = module.cluster.secret_arns["METRICS_TOKEN"] })
      policy    = data.aws_iam_policy_document.web.json
      sg        = aws_security_group.web.id
      port      = local.web_port
      tg        = module.load_balancer.target_group_arn
      desired   = var.web.min
      min       = var.web.min
      max       = var.web.max
      scaling   = "web"
      cpu_tgt   = var.web.cpu_target
      requests  = var.web.requests_per_target
      queue     = ""
      backlog   = 0
      stop_wait = 30
    }
    worker-bulk = {
      image     = local.worker_image
      command   = concat(local.worker_command, ["inference"])
      cpu       = var.bulk_worker.cpu
      memory    = var.bulk_worker.memory
      env       = merge(local.worker_env, { TORCH_THREADS = tostring(floor(var.bulk_worker.cpu / 1024)) })
      secrets   = local.common_secrets
      policy    = data.aws_iam_policy_document.worker["inference"].json
      sg        = aws_security_group.workers.id
      port      = null
      tg        = null
      desired   = var.bulk_worker.min
      min       = var.bulk_worker.min
      max       = var.bulk_worker.max
      scaling   = "queue"
      cpu_tgt   = var.bulk_worker.cpu_target
      requests  = 0
      queue     = module.queues.names["inference"]
      backlog   = var.bulk_worker.backlog_per_task
      stop_wait = var.stop_timeout_seconds
    }
    worker-predict = {
      image     = local.worker_image
      command   = concat(local.worker_command, ["predict"])
      cpu       = var.predict_worker.cpu
      memory    = var.predict_worker.memory
      env       = merge(local.worker_env, { TORCH_THREADS = tostring(floor(var.predict_worker.cpu / 1024)) })
      secrets   = local.common_secrets
      policy    = data.aws_iam_policy_document.worker["predict"].json
      sg        = aws_security_group.workers.id
      port      = null
      tg        = null
      desired   = var.predict_worker.min
      min       = var.predict_worker.min
      max       = var.predict_worker.max
      scaling   = "queue"
      cpu_tgt   = var.predict_worker.cpu_target
      requests  = 0
      queue     = module.queues.names["predict"]
      backlog   = var.predict_worker.backlog_per_task
      stop_wait = var.stop_timeout_seconds
    }
    sweeper = {
      image     = local.web_image
      command   = ["python", "manage.py", "sweep_jobs", "--loop", "60"]
      cpu       = 256
      memory    = 512
      env       = local.common_env
      secrets   = local.common_secrets
      policy    = data.aws_iam_policy_document.sweeper.json
      sg        = aws_security_group.workers.id
      port      = null
      tg        = null
      desired   = 1
      min       = 1
      max       = 1
      scaling   = "none"
      cpu_tgt   = 0
      requests  = 0
      queue     = ""
      backlog   = 0
      stop_wait = 30
    }
  }
}

module "service" {
  source   = "./modules/service"
  for_each = local.services

  name                = each.key
  cluster_name        = module.cluster.cluster_name
  cluster_arn         = module.cluster.cluster_arn
  image               = each.value.image
  command             = each.value.command
  cpu                 = each.value.cpu
  memory              = each.value.memory
  environment         = each.value.env
  secrets             = each.value.secrets
  execution_role_arn  = module.cluster.execution_role_arn
  assume_role_policy  = module.cluster.assume_role_policy
  task_policy_json    = each.value.policy
  subnet_ids          = module.networking.private_subnet_ids
  security_group_ids  = [each.value.sg]
  log_retention_days  = var.log_retention_days
  stop_timeout        = each.value.stop_wait
  container_port      = each.value.port
  target_group_arn    = each.value.tg
  desired_count       = each.value.desired
  min_count           = each.value.min
  max_count           = each.value.max
  scaling             = each.value.scaling
  cpu_target_percent  = each.value.cpu_tgt
  requests_per_target = each.value.requests
  alb_resource_label  = "${module.load_balancer.arn_suffix}/${module.load_balancer.target_group_arn_suffix}"
  queue_name          = each.value.queue
  backlog_per_task    = each.value.backlog
}

# --- Release: migrations etc. as a one-off task (output release_command runs it) ---------
resource "aws_cloudwatch_log_group" "release" {
  name              = "/ecs/${local.name}/release"
  retention_in_days = var.log_retention_days
  #checkov:skip=CKV_AWS_158:Release logs carry no secrets; the AWS-owned key encrypts them at rest.
}

# Release only talks to PostgreSQL: its role has no policy at all.
resource "aws_iam_role" "release" {
  name               = "${local.name}-release-task"
  assume_role_policy = module.cluster.assume_role_policy
}

resource "aws_ecs_task_definition" "release" {
  family                   = "${local.name}-release"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 512
  memory                   = 1024
  execution_role_arn       = module.cluster.execution_role_arn
  task_role_arn            = aws_iam_role.release.arn
  container_definitions = jsonencode([{
    name        = "app"
    image       = local.web_image
    essential   = true
    command     = ["python", "manage.py", "release"]
    environment = [for k in sort(keys(local.common_env)) : { name = k, value = local.common_env[k] }]
    secrets     = [for k in sort(keys(local.common_secrets)) : { name = k, valueFrom = local.common_secrets[k] }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.release.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "release"
      }
    }
  }])
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
  #checkov:skip=CKV_AWS_336:The image runs as a non-root user; Django's migrate needs no writable root, but Python's tempfile may.
}
