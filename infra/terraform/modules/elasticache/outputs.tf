output "primary_endpoint" {
  description = "Host name of the primary (use rediss:// with the auth token)."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "replication_group_id" {
  description = "ID of the replication group (CloudWatch dimension)."
  value       = aws_elasticache_replication_group.this.id
}

output "security_group_id" {
  description = "Security group of the cache."
  value       = aws_security_group.this.id
}
