output "bootstrap_brokers_tls" {
  description = "TLS bootstrap servers (KAFKA_BOOTSTRAP_SERVERS with KAFKA_SECURITY_PROTOCOL=SSL)."
  value       = aws_msk_cluster.this.bootstrap_brokers_tls
}

output "cluster_name" {
  description = "Name of the MSK cluster (CloudWatch dimension)."
  value       = aws_msk_cluster.this.cluster_name
}

output "cluster_arn" {
  description = "ARN of the MSK cluster."
  value       = aws_msk_cluster.this.arn
}

output "security_group_id" {
  description = "Security group of the brokers."
  value       = aws_security_group.this.id
}
