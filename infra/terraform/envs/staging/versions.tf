terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # State: an S3 bucket (versioned, KMS-encrypted, access restricted to the administrators'
  # roles) with S3-native locking. Values per account in backend.hcl (see backend.hcl.example):
  #   terraform init -backend-config=backend.hcl
  backend "s3" {
    key          = "loyalty/staging/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region              = var.region
  allowed_account_ids = [var.account_id]

  default_tags {
    tags = {
      Project     = "casino-loyalty"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
