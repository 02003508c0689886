variable "name" {
  description = "Cluster name, e.g. loyalty-staging."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the internal DNS namespace."
  type        = string
}

variable "internal_domain" {
  description = "Private DNS namespace for service discovery, e.g. loyalty.internal."
  type        = string
  default     = "loyalty.internal"
}

variable "kms_key_arn" {
  description = "KMS key ARN for ECS Exec sessions and their logs."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the ECS Exec session logs in days."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
