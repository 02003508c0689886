# Every process of every service runs the same image (see docs/adr/0010); only SERVICE, PROCESS
# and the environment differ.

locals {
  image           = "${module.ecr.repository_url}:${var.image_tag}"
  internal_domain = module.cluster.internal_domain

  services = {
    auth = {
      package  = "auth_service"
      port     = 8001
      priority = 10
      paths    = ["/api/v1/auth", "/api/v1/auth/*", "/oauth2/*", "/.well-known/*", "/auth/*"]
      secrets  = ["DATABASE_URL", "REDIS_URL", "AUTH_KEY_ENCRYPTION_SECRET", "AUTH_CLIENT_SECRET_PEPPER"]
      env = {
        # The services fetch tokens from http://auth.<internal>:8001 inside the VPC (TLS ends at
        # the ALB); authlib refuses plain HTTP from anything but loopback unless told so.
        AUTHLIB_INSECURE_TRANSPORT = "1"
      }
    }
    rewards = {
      package  = "rewards_service"
      port     = 8002
      priority = 20
      paths    = ["/api/v1/promotions", "/api/v1/promotions/*", "/api/v1/rewards", "/api/v1/rewards/*", "/rewards/*"]
      secrets  = ["DATABASE_URL", "REDIS_URL", "WALLET_CLIENT_SECRET"]
      env = {
        WALLET_GRPC_TARGET = "dns:///redeem-grpc.${local.internal_domain}:50051"
        WALLET_CLIENT_ID   = "rewards-service"
        AUTH_TOKEN_URL     = "http://auth.${local.internal_domain}:8001/oauth2/token"
      }
    }
    redeem = {
      package  = "redeem_service"
      port     = 8003
      priority = 30
      paths    = ["/api/v1/wallet", "/api/v1/wallet/*", "/api/v1/redemptions", "/api/v1/redemptions/*", "/redeem/*"]
      secrets  = ["DATABASE_URL", "REDIS_URL"]
      env      = {}
    }
    notification = {
      package  = "notification_service"
      port     = 8004
      priority = 40
      paths    = ["/api/v1/notifications", "/api/v1/notifications/*", "/notification/*"]
      secrets  = ["MONGODB_URL", "REDIS_URL"]
      env = {
        # One gevent worker per task holds thousands of idle WebSockets.
        GUNICORN_WORKER_CLASS       = "gevent"
        GUNICORN_WORKER_CONNECTIONS = "4000"
      }
    }
  }

  common_env = {
    LOYALTY_PROFILE          = "prod"
    KAFKA_BOOTSTRAP_SERVERS  = module.msk.bootstrap_brokers_tls
    KAFKA_SECURITY_PROTOCOL  = "SSL"
    AUTH_ISSUER              = var.public_base_url
    AUTH_AUDIENCE            = "loyalty-api"
    AUTH_JWKS_URL            = "http://auth.${local.internal_domain}:8001/.well-known/jwks.json"
    GRPC_PORT                = "50051"
    PROMETHEUS_MULTIPROC_DIR = "/tmp/prometheus"
    # Metrics of the processes without a web port (consumer lag, outbox backlog, dead letters;
    # gRPC calls) for a scraper in the task or the VPC; web processes serve /metrics.
    WORKER_METRICS_PORT = "9100"
    GRPC_METRICS_PORT   = "9100"
  }

  web_env = {
    WEB_CONCURRENCY       = "2"
    GUNICORN_WORKER_CLASS = "gthread"
    # Longer than the load balancer's idle timeout, so the ALB closes idle connections first.
    GUNICORN_KEEPALIVE = "310"
    # Only the load balancer (and, for auth, the other services) can reach the port.
    FORWARDED_ALLOW_IPS = "*"
  }

  # name => "arn:...:secret:loyalty/<env>/<svc>-xxxx:KEY::" for the ECS secrets block.
  service_secrets = {
    for svc, s in local.services : svc => {
      for key in s.secrets : key => "${aws_secretsmanager_secret.service[svc].arn}:${key}::"
    }
  }

  # The other services fetch the JWKS and (rewards) tokens from auth over the internal name.
  auth_clients = { for k in ["rewards", "redeem", "notification"] : k => aws_security_group.service[k].id }
}

module "web" {
  source   = "../../modules/ecs-service"
  for_each = local.services

  name                = "${each.key}-web"
  cluster_name        = module.cluster.cluster_name
  cluster_arn         = module.cluster.cluster_arn
  image               = local.image
  ecr_repository_arns = [module.ecr.repository_arn]
  command             = ["web"]
  environment = merge(local.common_env, local.web_env, each.value.env, {
    SERVICE = each.value.package
    PROCESS = "web"
    PORT    = tostring(each.value.port)
  })
  secrets        = local.service_secrets[each.key]
  container_port = each.value.port
  cpu            = 512
  memory         = 1024
  desired_count  = 3

  vpc_id                        = module.network.vpc_id
  vpc_cidr_block                = module.network.vpc_cidr_block
  subnet_ids                    = module.network.private_subnet_ids
  additional_security_group_ids = [aws_security_group.service[each.key].id]
  ingress_from_security_groups = merge(
    { alb = module.alb.security_group_id },
    each.key == "auth" ? local.auth_clients : {},
    var.metrics_scraper_security_group_ids, # /metrics on the web port
  )
  target_group_arn       = module.alb.target_group_arns[each.key]
  discovery_namespace_id = each.key == "auth" ? module.cluster.namespace_id : null
  discovery_name         = each.key

  autoscaling = {
    min_capacity        = 3
    max_capacity        = 12
    cpu_target          = 60
    requests_per_target = 600
    alb_resource_label  = module.alb.target_group_resource_labels[each.key]
  }

  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
}

module "worker" {
  source   = "../../modules/ecs-service"
  for_each = local.services

  name                = "${each.key}-worker"
  cluster_name        = module.cluster.cluster_name
  cluster_arn         = module.cluster.cluster_arn
  image               = local.image
  ecr_repository_arns = [module.ecr.repository_arn]
  command             = ["worker"]
  environment = merge(local.common_env, each.value.env, {
    SERVICE = each.value.package
    PROCESS = "worker"
  })
  secrets       = local.service_secrets[each.key]
  cpu           = 512
  memory        = 1024
  desired_count = 2

  vpc_id                        = module.network.vpc_id
  vpc_cidr_block                = module.network.vpc_cidr_block
  subnet_ids                    = module.network.private_subnet_ids
  additional_security_group_ids = [aws_security_group.service[each.key].id]
  metrics_port                  = tonumber(local.common_env.WORKER_METRICS_PORT)
  metrics_from_security_groups  = var.metrics_scraper_security_group_ids

  # Consumers beyond the partition count (6) would sit idle.
  autoscaling = {
    min_capacity = 2
    max_capacity = 6
    cpu_target   = 70
  }

  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
}

# The wallet gRPC server: internal only, reachable solely from the rewards service's tasks.
module "wallet_grpc" {
  source = "../../modules/ecs-service"

  name                = "redeem-grpc"
  cluster_name        = module.cluster.cluster_name
  cluster_arn         = module.cluster.cluster_arn
  image               = local.image
  ecr_repository_arns = [module.ecr.repository_arn]
  command             = ["grpc"]
  environment = merge(local.common_env, {
    SERVICE = "redeem_service"
    PROCESS = "grpc"
  })
  secrets        = local.service_secrets["redeem"]
  container_port = 50051
  desired_count  = 2

  vpc_id                        = module.network.vpc_id
  vpc_cidr_block                = module.network.vpc_cidr_block
  subnet_ids                    = module.network.private_subnet_ids
  additional_security_group_ids = [aws_security_group.service["redeem"].id]
  ingress_from_security_groups  = { rewards = aws_security_group.service["rewards"].id }
  metrics_port                  = tonumber(local.common_env.GRPC_METRICS_PORT)
  metrics_from_security_groups  = var.metrics_scraper_security_group_ids
  discovery_namespace_id        = module.cluster.namespace_id
  discovery_name                = "redeem-grpc"

  autoscaling = {
    min_capacity = 2
    max_capacity = 6
    cpu_target   = 60
  }

  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
}

# --- one-shot tasks (run by the deploy workflow with `aws ecs run-task`) ---------------------
# `python -m <svc>.manage migrate`: Alembic migrations (auth, rewards, redeem) or the MongoDB
# indexes (notification). It loads the whole service configuration, so it gets the service's
# environment and secrets, like the worker.
module "migrate" {
  source   = "../../modules/ecs-service"
  for_each = local.services

  name                = "${each.key}-migrate"
  create_service      = false
  cluster_name        = module.cluster.cluster_name
  cluster_arn         = module.cluster.cluster_arn
  image               = local.image
  ecr_repository_arns = [module.ecr.repository_arn]
  command             = ["migrate"]
  environment = merge(local.common_env, each.value.env, {
    SERVICE = each.value.package
    PROCESS = "migrate"
  })
  # auth's job also registers the wallet client with the secret rewards is given.
  secrets = each.key == "auth" ? merge(local.service_secrets.auth, {
    WALLET_CLIENT_SECRET = "${aws_secretsmanager_secret.service["auth"].arn}:WALLET_CLIENT_SECRET::"
  }) : local.service_secrets[each.key]
  health_check_command = null
  cpu                  = 256
  memory               = 512

  vpc_id                        = module.network.vpc_id
  vpc_cidr_block                = module.network.vpc_cidr_block
  subnet_ids                    = module.network.private_subnet_ids
  additional_security_group_ids = [aws_security_group.service[each.key].id]

  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
}

# Creates the auth, rewards and redeem databases and their owning roles (the same script as the
# compose PostgreSQL init), as the RDS admin whose password RDS manages.
module "db_bootstrap" {
  source = "../../modules/ecs-service"

  name                = "db-bootstrap"
  create_service      = false
  cluster_name        = module.cluster.cluster_name
  cluster_arn         = module.cluster.cluster_arn
  image               = "public.ecr.aws/docker/library/postgres:16-alpine"
  user                = "70:70"
  ecr_repository_arns = []
  command             = ["sh", "-c", file("${path.module}/../../../postgres/create-databases.sh")]
  environment = {
    PGHOST     = module.rds.address
    PGPORT     = tostring(module.rds.port)
    PGDATABASE = "postgres"
    PGSSLMODE  = "require"
  }
  secrets = {
    PGUSER              = "${module.rds.master_user_secret_arn}:username::"
    PGPASSWORD          = "${module.rds.master_user_secret_arn}:password::"
    AUTH_DB_PASSWORD    = "${aws_secretsmanager_secret.service["db-bootstrap"].arn}:AUTH_DB_PASSWORD::"
    REWARDS_DB_PASSWORD = "${aws_secretsmanager_secret.service["db-bootstrap"].arn}:REWARDS_DB_PASSWORD::"
    REDEEM_DB_PASSWORD  = "${aws_secretsmanager_secret.service["db-bootstrap"].arn}:REDEEM_DB_PASSWORD::"
  }
  health_check_command = null
  cpu                  = 256
  memory               = 512

  vpc_id         = module.network.vpc_id
  vpc_cidr_block = module.network.vpc_cidr_block
  subnet_ids     = module.network.private_subnet_ids

  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
}

# Creates the Kafka topics and their dead-letter topics (the same script as the compose job).
module "kafka_topics" {
  source = "../../modules/ecs-service"

  name                = "kafka-topics"
  create_service      = false
  cluster_name        = module.cluster.cluster_name
  cluster_arn         = module.cluster.cluster_arn
  image               = "apache/kafka:3.9.1"
  user                = "1000:1000"
  ecr_repository_arns = []
  command             = ["bash", "-c", file("${path.module}/../../../compose/kafka/create-topics.sh")]
  environment = {
    KAFKA_BOOTSTRAP_SERVERS = module.msk.bootstrap_brokers_tls
    KAFKA_SECURITY_PROTOCOL = "SSL"
    LOG_DIR                 = "/tmp"
  }
  health_check_command = null
  cpu                  = 256
  memory               = 1024

  vpc_id         = module.network.vpc_id
  vpc_cidr_block = module.network.vpc_cidr_block
  subnet_ids     = module.network.private_subnet_ids

  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
}
