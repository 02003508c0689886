locals {
  name = "loyalty-${var.environment}"
  # CA bundle of RDS and DocumentDB server certificates, baked into the image.
  rds_ca_bundle = "/etc/ssl/certs/rds-global-bundle.pem"
}

module "kms" {
  source = "../../modules/kms"
  name   = local.name
}

module "network" {
  source             = "../../modules/network"
  name               = local.name
  cidr_block         = var.vpc_cidr
  availability_zones = var.availability_zones
  single_nat_gateway = var.single_nat_gateway
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
}

module "ecr" {
  source      = "../../modules/ecr"
  name        = "casino-loyalty"
  kms_key_arn = module.kms.key_arn
}

module "cluster" {
  source             = "../../modules/ecs-cluster"
  name               = local.name
  vpc_id             = module.network.vpc_id
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
}

module "alb" {
  source              = "../../modules/alb"
  name                = local.name
  account_id          = var.account_id
  vpc_id              = module.network.vpc_id
  vpc_cidr_block      = module.network.vpc_cidr_block
  public_subnet_ids   = module.network.public_subnet_ids
  allowed_cidr_blocks = var.allowed_cidr_blocks
  certificate_arn     = var.certificate_arn
  deletion_protection = var.deletion_protection
  kms_key_arn         = module.kms.key_arn
  log_retention_days  = var.log_retention_days
  services            = { for k, s in local.services : k => { port = s.port, priority = s.priority, paths = s.paths } }
}

# Identity of each service: attached to all its processes, referenced by the data stores and the
# wallet gRPC server. It holds no rules itself.
resource "aws_security_group" "service" {
  # checkov:skip=CKV2_AWS_5: attached to the ECS services through the ecs-service module's additional_security_group_ids
  for_each    = local.services
  name        = "${local.name}-${each.key}-identity"
  description = "Identity of the ${each.key} service for data store and internal access"
  vpc_id      = module.network.vpc_id
  tags        = { Name = "${local.name}-${each.key}-identity" }
}

module "rds" {
  source                = "../../modules/rds"
  name                  = local.name
  vpc_id                = module.network.vpc_id
  subnet_ids            = module.network.data_subnet_ids
  instance_class        = var.rds_instance_class
  multi_az              = var.rds_multi_az
  deletion_protection   = var.deletion_protection
  kms_key_arn           = module.kms.key_arn
  backup_retention_days = 14
  client_security_group_ids = {
    auth           = aws_security_group.service["auth"].id
    rewards        = aws_security_group.service["rewards"].id
    redeem         = aws_security_group.service["redeem"].id
    "db-bootstrap" = module.db_bootstrap.security_group_id
  }
}

module "redis" {
  source                    = "../../modules/elasticache"
  name                      = local.name
  vpc_id                    = module.network.vpc_id
  subnet_ids                = module.network.data_subnet_ids
  node_type                 = var.redis_node_type
  auth_token                = data.aws_secretsmanager_random_password.generated["redis_auth_token"].random_password
  kms_key_arn               = module.kms.key_arn
  log_retention_days        = var.log_retention_days
  client_security_group_ids = { for k, sg in aws_security_group.service : k => sg.id }
}

module "msk" {
  source             = "../../modules/msk"
  name               = local.name
  vpc_id             = module.network.vpc_id
  subnet_ids         = module.network.data_subnet_ids
  broker_count       = length(var.availability_zones) * ceil(3 / length(var.availability_zones))
  instance_type      = var.msk_instance_type
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
  client_security_group_ids = merge(
    { for k, sg in aws_security_group.service : k => sg.id },
    { "kafka-topics" = module.kafka_topics.security_group_id },
  )
}

module "documentdb" {
  source              = "../../modules/documentdb"
  name                = local.name
  vpc_id              = module.network.vpc_id
  subnet_ids          = module.network.data_subnet_ids
  instance_class      = var.docdb_instance_class
  master_password     = data.aws_secretsmanager_random_password.generated["docdb_master"].random_password
  deletion_protection = var.deletion_protection
  kms_key_arn         = module.kms.key_arn
  client_security_group_ids = {
    notification = aws_security_group.service["notification"].id
  }
}

module "monitoring" {
  source            = "../../modules/monitoring"
  name              = local.name
  alarm_emails      = var.alarm_emails
  alb_arn_suffix    = module.alb.arn_suffix
  ecs_cluster_name  = module.cluster.cluster_name
  ecs_service_names = concat([for m in module.web : m.service_name], [for m in module.worker : m.service_name], [module.wallet_grpc.service_name])
  msk_cluster_name  = module.msk.cluster_name
  rds_instance_id   = module.rds.instance_id
  kms_key_arn       = module.kms.key_arn
}
