output "repository_url" {
  description = "URL of the repository (docker push target)."
  value       = aws_ecr_repository.this.repository_url
}

output "repository_arn" {
  description = "ARN of the repository (for pull and push policies)."
  value       = aws_ecr_repository.this.arn
}
