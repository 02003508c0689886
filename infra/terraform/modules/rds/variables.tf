variable "name" {
  description = "Identifier of the instance and prefix of its resources, e.g. loyalty-staging."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the database security group."
  type        = string
}

variable "subnet_ids" {
  description = "Data subnets of the database (no route out of the VPC)."
  type        = list(string)
}

variable "client_security_group_ids" {
  description = "Security groups allowed to connect: label => security group ID."
  type        = map(string)
}

variable "engine_version" {
  description = "PostgreSQL major version; AWS applies the minor versions (auto minor version upgrade)."
  type        = string
  default     = "16"

  # A minor version here would be planned back down after each automatic upgrade, and fail.
  validation {
    condition     = can(regex("^[0-9]+$", var.engine_version))
    error_message = "A major version only, e.g. \"16\": minor versions are upgraded automatically."
  }
}

variable "instance_class" {
  description = "Instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "allocated_storage" {
  description = "Initial storage in GiB."
  type        = number
  default     = 50
}

variable "max_allocated_storage" {
  description = "Storage autoscaling ceiling in GiB."
  type        = number
  default     = 500
}

variable "multi_az" {
  description = "Run a synchronous standby in another zone (automatic failover)."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery window)."
  type        = number
  default     = 14
}

variable "deletion_protection" {
  description = "Protect the instance against deletion."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "KMS key ARN encrypting storage, Performance Insights and the admin secret."
  type        = string
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
