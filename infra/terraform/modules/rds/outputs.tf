output "address" {
  description = "Host name of the PostgreSQL instance."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port of the PostgreSQL instance."
  value       = aws_db_instance.this.port
}

output "master_user_secret_arn" {
  description = "Secrets Manager ARN of the RDS-managed admin credentials."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "instance_id" {
  description = "Identifier of the instance (CloudWatch dimension)."
  value       = aws_db_instance.this.identifier
}

output "security_group_id" {
  description = "Security group of the database."
  value       = aws_security_group.this.id
}
