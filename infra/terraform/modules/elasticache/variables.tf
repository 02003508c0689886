variable "name" {
  description = "Replication group ID and prefix of its resources, e.g. loyalty-staging."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the Redis security group."
  type        = string
}

variable "subnet_ids" {
  description = "Data subnets of the cache nodes."
  type        = list(string)
}

variable "client_security_group_ids" {
  description = "Security groups allowed to connect: label => security group ID."
  type        = map(string)
}

variable "auth_token" {
  description = "Redis AUTH token (16-128 printable characters, no @ / \" or spaces)."
  type        = string
  sensitive   = true
}

variable "engine_version" {
  description = "Redis engine version."
  type        = string
  default     = "7.1"
}

variable "node_type" {
  description = "Cache node type."
  type        = string
  default     = "cache.t4g.medium"
}

variable "node_count" {
  description = "Nodes in the replication group: one primary plus replicas in other zones (at least 2)."
  type        = number
  default     = 2

  validation {
    condition     = var.node_count >= 2
    error_message = "At least 2 nodes: automatic failover needs a replica."
  }
}

variable "snapshot_retention_days" {
  description = "Days of daily snapshots."
  type        = number
  default     = 7
}

variable "kms_key_arn" {
  description = "KMS key ARN encrypting data at rest and the slow log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the slow log in days."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
