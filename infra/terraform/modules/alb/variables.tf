variable "name" {
  description = "Name of the load balancer and prefix of its resources, e.g. loyalty-staging."
  type        = string
}

variable "account_id" {
  description = "AWS account ID (part of the access log bucket name and path)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the load balancer and its target groups."
  type        = string
}

variable "vpc_cidr_block" {
  description = "CIDR of the VPC (the load balancer may reach targets only inside it)."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets of the load balancer."
  type        = list(string)
}

variable "allowed_cidr_blocks" {
  description = "Client address ranges allowed to reach the API."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "certificate_arn" {
  description = "ACM certificate ARN of the HTTPS listener."
  type        = string
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener (TLS 1.2+ with forward secrecy)."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "idle_timeout" {
  description = "Seconds an idle connection (notably a WebSocket) stays open; the services ping within it."
  type        = number
  default     = 300
}

variable "deletion_protection" {
  description = "Protect the load balancer against deletion."
  type        = bool
  default     = true
}

variable "services" {
  description = "Routed services: name => container port, listener rule priority and up to 5 path patterns."
  type = map(object({
    port     = number
    priority = number
    paths    = list(string)
  }))

  validation {
    condition     = alltrue([for s in values(var.services) : length(s.paths) >= 1 && length(s.paths) <= 5])
    error_message = "Each service needs 1 to 5 path patterns (an ALB rule condition holds at most 5)."
  }
}

variable "login_rate_limit" {
  description = "Requests per 5 minutes per client address to /api/v1/auth/login, and as many to /api/v1/auth/password-reset, before WAF answers 429."
  type        = number
  default     = 150
}

variable "token_rate_limit" {
  description = "Requests per 5 minutes per client address to /oauth2/token before WAF answers 429."
  type        = number
  default     = 3000
}

variable "access_log_retention_days" {
  description = "Days the ALB access logs are kept."
  type        = number
  default     = 365
}

variable "kms_key_arn" {
  description = "KMS key ARN encrypting the WAF log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the WAF logs in days."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
