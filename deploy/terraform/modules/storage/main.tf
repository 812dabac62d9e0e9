# The private media bucket: uploads/, thumbnails/ and incoming/ (direct-upload staging).

variable "bucket_name" { type = string }
variable "cors_allowed_origins" { type = list(string) }
variable "incoming_expiry_days" { type = number }
variable "noncurrent_expiry_days" { type = number }
variable "force_destroy" { type = bool }

resource "aws_s3_bucket" "media" {
  bucket        = var.bucket_name
  force_destroy = var.force_destroy
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice per account, not a default.
  #checkov:skip=CKV_AWS_18:Access logging needs a second bucket; CloudTrail data events cover audits where required.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES-256) encrypts at rest; a customer key adds per-request KMS cost to every thumbnail.
  #checkov:skip=CKV2_AWS_62:Nothing consumes bucket events; the app finalizes uploads itself.
}

resource "aws_s3_bucket_public_access_block" "media" {
  bucket                  = aws_s3_bucket.media.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "media" {
  bucket = aws_s3_bucket.media.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "media" {
  bucket = aws_s3_bucket.media.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

# Versioning lets an operator undo an accidental delete; old versions expire below.
resource "aws_s3_bucket_versioning" "media" {
  bucket = aws_s3_bucket.media.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "media" {
  bucket = aws_s3_bucket.media.id

  # incoming/ holds direct uploads until /api/v1/images/finalize ingests and deletes them;
  # an upload that was never finalized is garbage after a day.
  rule {
    id     = "expire-unfinished-uploads"
    status = "Enabled"
    filter {
      prefix = "incoming/"
    }
    expiration {
      days = var.incoming_expiry_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }

  rule {
    id     = "expire-old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_expiry_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.media]
}

# Browsers POST straight to the bucket with the presigned form from /api/v1/upload-url.
resource "aws_s3_bucket_cors_configuration" "media" {
  bucket = aws_s3_bucket.media.id
  cors_rule {
    allowed_methods = ["POST"]
    allowed_origins = var.cors_allowed_origins
    allowed_headers = ["*"]
    expose_headers  = ["ETag"]
    max_age_seconds = 3000
  }
}

data "aws_iam_policy_document" "media" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.media.arn,
      "${aws_s3_bucket.media.arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "media" {
  bucket     = aws_s3_bucket.media.id
  policy     = data.aws_iam_policy_document.media.json
  depends_on = [aws_s3_bucket_public_access_block.media]
}

output "bucket_name" { value = aws_s3_bucket.media.bucket }
output "bucket_arn" { value = aws_s3_bucket.media.arn }
