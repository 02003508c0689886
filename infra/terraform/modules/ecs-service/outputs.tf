output "service_name" {
  description = "Name of the ECS service (null for task-definition-only processes)."
  value       = var.create_service ? aws_ecs_service.this[0].name : null
}

output "task_definition_family" {
  description = "Family of the task definition (deployments register new revisions in it)."
  value       = aws_ecs_task_definition.this.family
}

output "task_definition_arn" {
  description = "ARN of the task definition revision created by Terraform."
  value       = aws_ecs_task_definition.this.arn
}

output "security_group_id" {
  description = "Security group of the tasks."
  value       = aws_security_group.this.id
}

output "task_role_arn" {
  description = "IAM role of the application."
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  description = "IAM role ECS uses to pull the image, write logs and read the task's secrets."
  value       = aws_iam_role.execution.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the tasks."
  value       = aws_cloudwatch_log_group.this.name
}
