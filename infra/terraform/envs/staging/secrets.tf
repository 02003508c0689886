# Credentials are generated here once and live in Secrets Manager (KMS-encrypted). Each service
# gets one secret holding only its own connection strings, so its execution role reads nothing
# else. The generator yields a new value on every plan; ignore_changes keeps the stored one.
# Rotation: docs/deployment.md ("Rotating credentials").

locals {
  generated = toset([
    "redis_auth_token", "docdb_master", "auth_db", "rewards_db", "redeem_db",
    "auth_key_encryption_secret", "auth_client_secret_pepper", "wallet_client_secret",
  ])
  password = { for k, v in data.aws_secretsmanager_random_password.generated : k => v.random_password }

  postgres_url = {
    for svc in ["auth", "rewards", "redeem"] :
    svc => "postgresql+psycopg://${svc}:${local.password["${svc}_db"]}@${module.rds.address}:${module.rds.port}/${svc}?sslmode=verify-full&sslrootcert=${local.rds_ca_bundle}"
  }
  redis_url = {
    for i, svc in ["auth", "rewards", "redeem", "notification"] :
    svc => "rediss://:${local.password["redis_auth_token"]}@${module.redis.primary_endpoint}:6379/${i}"
  }
  # Reads from the primary: notification reads right after its own writes (the unread count
  # after marking all read, `before=` page anchors), which a lagging secondary would answer stale.
  mongodb_url = "mongodb://loyalty_admin:${local.password["docdb_master"]}@${module.documentdb.endpoint}:${module.documentdb.port}/notifications?tls=true&tlsCAFile=${local.rds_ca_bundle}&replicaSet=rs0&readPreference=primary&retryWrites=false&authSource=admin"

  service_secret_values = {
    auth = {
      DATABASE_URL               = local.postgres_url["auth"]
      REDIS_URL                  = local.redis_url["auth"]
      AUTH_KEY_ENCRYPTION_SECRET = local.password["auth_key_encryption_secret"]
      AUTH_CLIENT_SECRET_PEPPER  = local.password["auth_client_secret_pepper"]
      # Read by auth-migrate only, which registers the wallet client with it (the same value
      # as rewards'), so nobody copies a secret from an API answer.
      WALLET_CLIENT_SECRET = local.password["wallet_client_secret"]
    }
    rewards = {
      DATABASE_URL         = local.postgres_url["rewards"]
      REDIS_URL            = local.redis_url["rewards"]
      WALLET_CLIENT_SECRET = local.password["wallet_client_secret"]
    }
    redeem = {
      DATABASE_URL = local.postgres_url["redeem"]
      REDIS_URL    = local.redis_url["redeem"]
    }
    notification = {
      MONGODB_URL = local.mongodb_url
      REDIS_URL   = local.redis_url["notification"]
    }
    db-bootstrap = {
      AUTH_DB_PASSWORD    = local.password["auth_db"]
      REWARDS_DB_PASSWORD = local.password["rewards_db"]
      REDEEM_DB_PASSWORD  = local.password["redeem_db"]
    }
  }
}

data "aws_secretsmanager_random_password" "generated" {
  for_each = local.generated
  # Alphanumeric only: the values end up inside URLs and Redis/DocumentDB reject some symbols.
  password_length     = 48
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "service" {
  # checkov:skip=CKV2_AWS_57: rotated with the data store by the documented runbook; a rotation Lambda per store is not deployed
  for_each                = local.service_secret_values
  name                    = "loyalty/${var.environment}/${each.key}"
  description             = "Connection strings and keys of ${each.key} (one secret per process family)"
  kms_key_id              = module.kms.key_arn
  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret_version" "service" {
  for_each      = local.service_secret_values
  secret_id     = aws_secretsmanager_secret.service[each.key].id
  secret_string = jsonencode(each.value)

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_secretsmanager_secret" "data_store" {
  # checkov:skip=CKV2_AWS_57: rotated with the data store by the documented runbook; a rotation Lambda per store is not deployed
  for_each                = toset(["redis-auth-token", "docdb-master"])
  name                    = "loyalty/${var.environment}/${each.key}"
  description             = "Administrative credential of ${each.key} (operators only)"
  kms_key_id              = module.kms.key_arn
  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret_version" "data_store" {
  for_each  = aws_secretsmanager_secret.data_store
  secret_id = each.value.id
  secret_string = each.key == "redis-auth-token" ? local.password["redis_auth_token"] : jsonencode({
    username = "loyalty_admin"
    password = local.password["docdb_master"]
    host     = module.documentdb.endpoint
  })

  lifecycle {
    ignore_changes = [secret_string]
  }
}

# Partner apps (hotel, casino, dining) authenticate with client credentials; their secrets are
# generated here and handed over out of band when the client is registered in auth.
data "aws_secretsmanager_random_password" "partner" {
  for_each            = toset(var.partner_clients)
  password_length     = 48
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "partner" {
  # checkov:skip=CKV2_AWS_57: partner secrets rotate when the partner is re-registered, not on a timer
  for_each                = toset(var.partner_clients)
  name                    = "loyalty/${var.environment}/partners/${each.key}"
  description             = "OAuth2 client credentials of the ${each.key} partner app"
  kms_key_id              = module.kms.key_arn
  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret_version" "partner" {
  for_each  = aws_secretsmanager_secret.partner
  secret_id = each.value.id
  secret_string = jsonencode({
    client_id     = "${each.key}-partner"
    client_secret = data.aws_secretsmanager_random_password.partner[each.key].random_password
  })

  lifecycle {
    ignore_changes = [secret_string]
  }
}
