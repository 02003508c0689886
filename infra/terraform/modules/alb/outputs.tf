output "dns_name" {
  description = "DNS name of the load balancer (point the API's domain at it)."
  value       = aws_lb.this.dns_name
}

output "zone_id" {
  description = "Hosted zone ID of the load balancer (for Route 53 alias records)."
  value       = aws_lb.this.zone_id
}

output "arn_suffix" {
  description = "ARN suffix of the load balancer (CloudWatch dimension)."
  value       = aws_lb.this.arn_suffix
}

output "security_group_id" {
  description = "Security group of the load balancer (source of the services' ingress)."
  value       = aws_security_group.this.id
}

output "target_group_arns" {
  description = "Target group ARN per routed service."
  value       = { for k, tg in aws_lb_target_group.this : k => tg.arn }
}

output "target_group_resource_labels" {
  description = "ALBRequestCountPerTarget resource label per routed service."
  value       = { for k, tg in aws_lb_target_group.this : k => "${aws_lb.this.arn_suffix}/${tg.arn_suffix}" }
}
