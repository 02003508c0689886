variable "name" {
  description = "Cluster name, e.g. loyalty-staging."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the broker security group."
  type        = string
}

variable "subnet_ids" {
  description = "Data subnets of the brokers (one per zone; broker_count must be a multiple of their number)."
  type        = list(string)
}

variable "client_security_group_ids" {
  description = "Security groups allowed to connect: label => security group ID."
  type        = map(string)
}

variable "kafka_version" {
  description = "Apache Kafka version of the cluster."
  type        = string
  default     = "3.6.0"
}

variable "broker_count" {
  description = "Number of brokers (3 for replication factor 3 with min.insync.replicas 2)."
  type        = number
  default     = 3
}

variable "instance_type" {
  description = "Broker instance type."
  type        = string
  default     = "kafka.m7g.large"
}

variable "volume_size" {
  description = "EBS storage per broker in GiB."
  type        = number
  default     = 100
}

variable "enhanced_monitoring" {
  description = "MSK CloudWatch monitoring level; consumer lag per group and topic needs PER_TOPIC_PER_PARTITION."
  type        = string
  default     = "PER_TOPIC_PER_PARTITION"
}

variable "kms_key_arn" {
  description = "KMS key ARN encrypting broker storage and the broker log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the broker logs in days."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
