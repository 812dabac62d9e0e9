# PostgreSQL on RDS in the private subnets. The app reads one DATABASE_URL, so the whole
# URL (with a generated password) lives in one Secrets Manager secret that ECS injects.

variable "name" { type = string }
variable "vpc_id" { type = string }
variable "subnet_ids" { type = list(string) }
variable "client_security_group_ids" {
  description = "Security groups allowed in, keyed by a static name."
  type        = map(string)
}
variable "instance_class" { type = string }
variable "allocated_storage_gb" { type = number }
variable "max_allocated_storage_gb" { type = number }
variable "engine_version" { type = string }
variable "multi_az" { type = bool }
variable "backup_retention_days" { type = number }
variable "deletion_protection" { type = bool }
variable "secret_recovery_days" { type = number }

locals {
  db_name  = "classifier"
  username = "classifier"
}

resource "aws_db_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
}

resource "aws_security_group" "db" {
  name        = "${var.name}-db"
  description = "PostgreSQL, reachable only from the app tasks"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "db_from_tasks" {
  for_each                     = var.client_security_group_ids
  security_group_id            = aws_security_group.db.id
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  description                  = "PostgreSQL from the app tasks"
}

# Generated once: later plans read a new value, which ignore_changes below keeps out.
data "aws_secretsmanager_random_password" "db" {
  password_length     = 32
  exclude_punctuation = true # the password sits inside a URL
}

resource "aws_db_parameter_group" "this" {
  name   = var.name
  family = "postgres${split(".", var.engine_version)[0]}"
  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }
  parameter {
    name         = "rds.force_ssl"
    value        = "1"
    apply_method = "pending-reboot"
  }
}

resource "aws_db_instance" "this" {
  identifier                      = var.name
  engine                          = "postgres"
  engine_version                  = var.engine_version
  instance_class                  = var.instance_class
  allocated_storage               = var.allocated_storage_gb
  max_allocated_storage           = var.max_allocated_storage_gb
  storage_type                    = "gp3"
  storage_encrypted               = true
  db_name                         = local.db_name
  username                        = local.username
  password                        = data.aws_secretsmanager_random_password.db.random_password
  db_subnet_group_name            = aws_db_subnet_group.this.name
  vpc_security_group_ids          = [aws_security_group.db.id]
  parameter_group_name            = aws_db_parameter_group.this.name
  multi_az                        = var.multi_az
  publicly_accessible             = false
  backup_retention_period         = var.backup_retention_days
  deletion_protection             = var.deletion_protection
  skip_final_snapshot             = !var.deletion_protection
  final_snapshot_identifier       = var.deletion_protection ? "${var.name}-final" : null
  copy_tags_to_snapshot           = true
  auto_minor_version_upgrade      = true
  performance_insights_enabled    = true
  enabled_cloudwatch_logs_exports = ["postgresql", "upgrade"]
  apply_immediately               = false

  lifecycle {
    ignore_changes = [password]
  }
  #checkov:skip=CKV_AWS_161:The app connects with a password URL (DATABASE_URL); IAM tokens expire every 15 min and Django has no hook for them.
  #checkov:skip=CKV_AWS_118:Enhanced monitoring needs another role; Performance Insights and CloudWatch cover the operator's needs.
  #checkov:skip=CKV_AWS_157:Multi-AZ is a variable (multi_az): on for production, off for staging to halve the cost.
  #checkov:skip=CKV_AWS_354:Performance Insights uses the AWS-managed key; a customer key is an account-level choice.
}

resource "aws_secretsmanager_secret" "database_url" {
  name                    = "${var.name}/DATABASE_URL"
  description             = "postgres:// URL the app reads as DATABASE_URL"
  recovery_window_in_days = var.secret_recovery_days
  #checkov:skip=CKV_AWS_149:The AWS-managed Secrets Manager key encrypts it; only the execution role may read it.
  #checkov:skip=CKV2_AWS_57:Rotation would change the password inside a URL; rotate by re-running terraform with -replace (docs/deploy.md).
}

resource "aws_secretsmanager_secret_version" "database_url" {
  secret_id = aws_secretsmanager_secret.database_url.id
  secret_string = format(
    "postgres://%s:%s@%s/%s?sslmode=require",
    local.username,
    data.aws_secretsmanager_random_password.db.random_password,
    aws_db_instance.this.endpoint,
    local.db_name,
  )
  lifecycle {
    ignore_changes = [secret_string]
  }
}

output "endpoint" { value = aws_db_instance.this.endpoint }
output "database_url_secret_arn" { value = aws_secretsmanager_secret.database_url.arn }
