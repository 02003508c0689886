variable "name" {
  description = "Prefix of the alarms and the SNS topic, e.g. loyalty-staging."
  type        = string
}

variable "alarm_emails" {
  description = "Addresses subscribed to the alarm topic (each must confirm by email)."
  type        = list(string)
  default     = []
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the load balancer."
  type        = string
}

variable "alb_5xx_rate_threshold" {
  description = "Percentage of 5xx responses that raises the alarm."
  type        = number
  default     = 2
}

variable "ecs_cluster_name" {
  description = "Name of the ECS cluster."
  type        = string
}

variable "ecs_service_names" {
  description = "ECS services whose CPU is alarmed on."
  type        = list(string)
}

variable "ecs_cpu_threshold" {
  description = "Average CPU percentage that raises a service's alarm."
  type        = number
  default     = 85
}

variable "msk_cluster_name" {
  description = "Name of the MSK cluster."
  type        = string
}

variable "kafka_lag_threshold" {
  description = "Offset lag (messages) of a consumer group on a topic that raises the alarm."
  type        = number
  default     = 1000
}

variable "rds_instance_id" {
  description = "Identifier of the PostgreSQL instance."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key ARN encrypting the alarm topic."
  type        = string
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
