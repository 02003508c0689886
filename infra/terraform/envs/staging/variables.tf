variable "account_id" {
  description = "AWS account the environment lives in (the provider refuses any other)."
  type        = string
}

variable "region" {
  description = "AWS region of the environment."
  type        = string
  default     = "eu-west-1"
}

variable "environment" {
  description = "Environment name, used in resource names and tags."
  type        = string
  default     = "staging"
}

variable "vpc_cidr" {
  description = "CIDR block of the environment's VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "Availability zones used by the subnets, brokers and database standbys (3 recommended)."
  type        = list(string)
  default     = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
}

variable "single_nat_gateway" {
  description = "One NAT gateway instead of one per zone (cheaper, not zone-redundant)."
  type        = bool
  default     = true
}

variable "certificate_arn" {
  description = "ACM certificate ARN for the public HTTPS listener."
  type        = string
}

variable "public_base_url" {
  description = "Public URL of the API (the token issuer, AUTH_ISSUER), e.g. https://api.staging.example.com."
  type        = string
}

variable "allowed_cidr_blocks" {
  description = "Client address ranges allowed to reach the load balancer."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "image_tag" {
  description = "Image tag of the first task definition revisions; later deploys come from CI."
  type        = string
  default     = "bootstrap"
}

variable "github_repository" {
  description = "GitHub repository (owner/name) whose main-branch deploy job may assume the deploy role."
  type        = string
}

variable "create_github_oidc_provider" {
  description = "Create the GitHub OIDC identity provider (false when the account already has it)."
  type        = bool
  default     = true
}

variable "alarm_emails" {
  description = "Email addresses subscribed to the alarm topic."
  type        = list(string)
  default     = []
}

variable "partner_clients" {
  description = "Partner OAuth2 clients whose secrets are generated into Secrets Manager."
  type        = list(string)
  default     = ["hotel", "casino", "dining"]
}

variable "rds_instance_class" {
  description = "Instance class of PostgreSQL."
  type        = string
  default     = "db.t4g.medium"
}

variable "rds_multi_az" {
  description = "Run PostgreSQL with a standby in another zone."
  type        = bool
  default     = true
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.medium"
}

variable "msk_instance_type" {
  description = "MSK broker instance type."
  type        = string
  default     = "kafka.t3.small"
}

variable "docdb_instance_class" {
  description = "DocumentDB instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "deletion_protection" {
  description = "Deletion protection on the load balancer and the databases."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of every CloudWatch log group in days."
  type        = number
  default     = 365
}

variable "metrics_scraper_security_group_ids" {
  description = "Security groups of the Prometheus scrapers (e.g. an ADOT collector): label => security group ID. They may reach every web task's /metrics and the workers' and gRPC server's metrics port (9100)."
  type        = map(string)
  default     = {}
}
