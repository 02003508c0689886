variable "name" {
  description = "Name of the process, e.g. auth-web, rewards-worker, redeem-grpc, auth-migrate."
  type        = string
}

variable "cluster_name" {
  description = "Name of the ECS cluster (also the prefix of roles, groups and log groups)."
  type        = string
}

variable "cluster_arn" {
  description = "ARN of the ECS cluster."
  type        = string
}

variable "image" {
  description = "Container image (repository URL and tag) of the first task definition revision."
  type        = string
}

variable "command" {
  description = "Container command: the loyalty role (web, worker, grpc, migrate) or a full command."
  type        = list(string)
  default     = null
}

variable "user" {
  description = "User the container runs as; null means the image's unprivileged user 10001."
  type        = string
  default     = null
}

variable "environment" {
  description = "Plain environment variables of the container."
  type        = map(string)
  default     = {}
}

variable "secrets" {
  description = "Environment variables read from Secrets Manager: name => secret ARN (optionally with :json-key::)."
  type        = map(string)
  default     = {}
}

variable "ecr_repository_arns" {
  description = "ECR repositories the execution role may pull from."
  type        = list(string)
}

variable "cpu" {
  description = "Fargate task CPU units (256, 512, 1024, ...)."
  type        = number
  default     = 512
}

variable "memory" {
  description = "Fargate task memory in MiB."
  type        = number
  default     = 1024
}

variable "cpu_architecture" {
  description = "CPU architecture of the task (X86_64 or ARM64); must match the image."
  type        = string
  default     = "X86_64"
}

variable "container_port" {
  description = "Port the container listens on (HTTP or gRPC); null for workers and one-shot tasks."
  type        = number
  default     = null
}

variable "health_check_command" {
  description = "Container health check command; null for none (one-shot tasks)."
  type        = list(string)
  default     = ["CMD", "python", "/usr/local/bin/loyalty-healthcheck"]
}

variable "stop_timeout" {
  description = "Seconds between SIGTERM and SIGKILL (max 120 on Fargate); covers draining in-flight work."
  type        = number
  default     = 60
}

variable "create_service" {
  description = "Create an ECS service; false registers only the task definition (one-shot tasks run with run-task)."
  type        = bool
  default     = true
}

variable "desired_count" {
  description = "Initial number of tasks (autoscaling takes over afterwards)."
  type        = number
  default     = 2
}

variable "subnet_ids" {
  description = "Private subnets of the tasks."
  type        = list(string)
}

variable "vpc_id" {
  description = "VPC of the task security group."
  type        = string
}

variable "vpc_cidr_block" {
  description = "CIDR of the VPC: tasks may reach anything inside it (further limited by the targets' groups)."
  type        = string
}

variable "ingress_from_security_groups" {
  description = "Security groups allowed to reach container_port: label => security group ID."
  type        = map(string)
  default     = {}
}

variable "metrics_port" {
  description = "Port of the Prometheus metrics a task without an HTTP port serves (WORKER_METRICS_PORT / GRPC_METRICS_PORT); null for none. Web tasks serve /metrics on container_port."
  type        = number
  default     = null
}

variable "metrics_from_security_groups" {
  description = "Security groups of the metrics scrapers (label => security group ID): allowed to reach metrics_port, and container_port on web tasks for /metrics."
  type        = map(string)
  default     = {}
}

variable "additional_security_group_ids" {
  description = "More security groups for the tasks, e.g. the service's identity group used by data stores."
  type        = list(string)
  default     = []
}

variable "target_group_arn" {
  description = "ALB target group to register the tasks in; null for processes without HTTP ingress."
  type        = string
  default     = null
}

variable "discovery_namespace_id" {
  description = "Cloud Map namespace to register the tasks in (internal DNS); null for none."
  type        = string
  default     = null
}

variable "discovery_name" {
  description = "Name in the Cloud Map namespace; defaults to the process name."
  type        = string
  default     = null
}

variable "autoscaling" {
  description = "Target-tracking autoscaling on CPU and optionally on ALB requests per target; null disables it."
  type = object({
    min_capacity        = number
    max_capacity        = number
    cpu_target          = number
    requests_per_target = optional(number)
    alb_resource_label  = optional(string)
  })
  default = null
}

variable "enable_execute_command" {
  description = "Allow ECS Exec into the tasks (sessions are logged and encrypted)."
  type        = bool
  default     = false
}

variable "task_policy_json" {
  description = "Extra IAM policy (JSON) for the application's task role; null for none."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "KMS key ARN encrypting the log group and the secrets the task reads."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the task logs in days."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
