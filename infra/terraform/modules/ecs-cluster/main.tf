resource "aws_cloudwatch_log_group" "exec" {
  name              = "/loyalty/${var.name}/ecs-exec"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  # ECS Exec sessions (off by default per service) are encrypted and logged.
  configuration {
    execute_command_configuration {
      kms_key_id = var.kms_key_arn
      logging    = "OVERRIDE"
      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = aws_cloudwatch_log_group.exec.name
      }
    }
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
    base              = 1
  }
}

# Private DNS for service-to-service traffic that never crosses the load balancer
# (the wallet gRPC server, the token and JWKS endpoints of auth).
resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = var.internal_domain
  description = "Internal names of the loyalty services"
  vpc         = var.vpc_id
  tags        = var.tags
}
