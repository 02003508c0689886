variable "name" {
  description = "Repository name, e.g. casino-loyalty."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key ARN encrypting the images at rest."
  type        = string
}

variable "keep_images" {
  description = "How many recent images to keep (rollback depth)."
  type        = number
  default     = 50
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
