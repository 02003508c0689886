output "api_dns_name" {
  description = "DNS name of the load balancer; point the API domain (public_base_url) at it."
  value       = module.alb.dns_name
}

output "api_zone_id" {
  description = "Hosted zone of the load balancer, for a Route 53 alias record."
  value       = module.alb.zone_id
}

output "ecr_repository_url" {
  description = "Repository the deploy workflow pushes the image to."
  value       = module.ecr.repository_url
}

output "ecs_cluster_name" {
  description = "Name of the ECS cluster."
  value       = module.cluster.cluster_name
}

output "deploy_role_arn" {
  description = "Role the GitHub deploy job assumes (store it as the AWS_DEPLOY_ROLE_ARN secret of the GitHub staging environment)."
  value       = aws_iam_role.deploy.arn
}

output "deploy_parameter_name" {
  description = "SSM parameter holding the deployment map read by the deploy workflow."
  value       = aws_ssm_parameter.deploy.name
}

output "service_secret_arns" {
  description = "Secrets Manager ARN of each service's connection secret."
  value       = { for k, s in aws_secretsmanager_secret.service : k => s.arn }
}

output "partner_secret_arns" {
  description = "Secrets Manager ARN of each partner client's credentials."
  value       = { for k, s in aws_secretsmanager_secret.partner : k => s.arn }
}

output "kafka_bootstrap_brokers" {
  description = "TLS bootstrap servers of MSK."
  value       = module.msk.bootstrap_brokers_tls
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms."
  value       = module.monitoring.alarm_topic_arn
}
