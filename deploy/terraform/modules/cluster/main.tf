# The ECS cluster, the two image repositories, the app's own secrets, and the execution
# role ECS uses to pull images, write logs and inject secrets (not the tasks' role).

variable "name" { type = string }
variable "secret_recovery_days" { type = number }
variable "database_url_secret_arn" { type = string }
variable "ecr_keep_images" { type = number }

resource "aws_ecs_cluster" "this" {
  name = var.name
  setting {
    # Container Insights publishes RunningTaskCount, which the worker scaling divides by.
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecr_repository" "this" {
  for_each             = toset(["web", "worker"])
  name                 = "${var.name}-${each.key}"
  image_tag_mutability = "IMMUTABLE"
  image_scanning_configuration {
    scan_on_push = true
  }
  #checkov:skip=CKV_AWS_136:AES-256 (the default) encrypts images; a customer key is an account-level choice.
}

resource "aws_ecr_lifecycle_policy" "this" {
  for_each   = aws_ecr_repository.this
  repository = each.value.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "keep the last ${var.ecr_keep_images} images (rollbacks)"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = var.ecr_keep_images
      }
      action = { type = "expire" }
    }]
  })
}

data "aws_secretsmanager_random_password" "secret_key" {
  password_length     = 64
  exclude_punctuation = true
}

data "aws_secretsmanager_random_password" "metrics_token" {
  password_length     = 40
  exclude_punctuation = true
}

locals {
  generated = {
    SECRET_KEY    = data.aws_secretsmanager_random_password.secret_key.random_password
    METRICS_TOKEN = data.aws_secretsmanager_random_password.metrics_token.random_password
  }
}

resource "aws_secretsmanager_secret" "app" {
  for_each                = local.generated
  name                    = "${var.name}/${each.key}"
  recovery_window_in_days = var.secret_recovery_days
  #checkov:skip=CKV_AWS_149:The AWS-managed Secrets Manager key encrypts it; only the execution role may read it.
  #checkov:skip=CKV2_AWS_57:Rotate by writing a new version and redeploying (docs/deploy.md); Django has no dual-key window for SECRET_KEY rotation here.
}

resource "aws_secretsmanager_secret_version" "app" {
  for_each      = local.generated
  secret_id     = aws_secretsmanager_secret.app[each.key].id
  secret_string = each.value
  lifecycle {
    # Generated once; a later plan's fresh random value must not replace it.
    ignore_changes = [secret_string]
  }
}

data "aws_iam_policy_document" "ecs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
}

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

# What AmazonECSTaskExecutionRolePolicy grants, narrowed to this app's repositories and
# log groups.
data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken takes no resource
  }
  statement {
    sid       = "PullImages"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = [for r in aws_ecr_repository.this : r.arn]
  }
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:aws:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:/ecs/${var.name}/*:*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-and-log"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

data "aws_iam_policy_document" "read_secrets" {
  statement {
    actions = ["secretsmanager:GetSecretValue"]
    resources = concat(
      [for s in aws_secretsmanager_secret.app : s.arn],
      [var.database_url_secret_arn],
    )
  }
}

resource "aws_iam_role_policy" "read_secrets" {
  name   = "read-app-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.read_secrets.json
}

output "cluster_name" { value = aws_ecs_cluster.this.name }
output "cluster_arn" { value = aws_ecs_cluster.this.arn }
output "execution_role_arn" { value = aws_iam_role.execution.arn }
output "ecr_repository_urls" { value = { for k, r in aws_ecr_repository.this : k => r.repository_url } }
output "secret_arns" { value = { for k, s in aws_secretsmanager_secret.app : k => s.arn } }
output "assume_role_policy" { value = data.aws_iam_policy_document.ecs_assume.json }
