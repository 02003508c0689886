variable "name" {
  description = "Name prefix of the network resources, e.g. loyalty-staging."
  type        = string
}

variable "cidr_block" {
  description = "CIDR block of the VPC (a /16 leaves room for /20 subnets per tier and AZ)."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "Availability zones (names) to spread the subnets over, 2 to 4 of them."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 4
    error_message = "Name 2 to 4 availability zones."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper, not zone-redundant) instead of one per zone."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "KMS key ARN encrypting the flow log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the VPC flow logs in days."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
