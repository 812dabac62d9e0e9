terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 6.0"
    }
  }
  # Keep state remote in a real account: copy backend.tf.example to backend.tf (see docs/deploy.md).
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Application = var.app_name
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
