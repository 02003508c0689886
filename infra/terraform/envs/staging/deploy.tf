# Continuous deployment from GitHub Actions without long-lived keys: the main-branch deploy job
# exchanges its OIDC token for this role (docs/adr/0013-oidc-deploys.md).

data "aws_partition" "current" {}

locals {
  github_oidc_url   = "https://token.actions.githubusercontent.com"
  oidc_provider_arn = var.create_github_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : "arn:${data.aws_partition.current.partition}:iam::${var.account_id}:oidc-provider/token.actions.githubusercontent.com"

  deployed_services = concat(
    [for k, m in module.web : { service = m.service_name, family = m.task_definition_family, container = "${k}-web" }],
    [for k, m in module.worker : { service = m.service_name, family = m.task_definition_family, container = "${k}-worker" }],
    [{ service = module.wallet_grpc.service_name, family = module.wallet_grpc.task_definition_family, container = "redeem-grpc" }],
  )
  one_shot_tasks = merge(
    { for k, m in module.migrate : "${k}-migrate" => { family = m.task_definition_family, container = "${k}-migrate", security_groups = [m.security_group_id, aws_security_group.service[k].id] } },
    {
      "db-bootstrap" = { family = module.db_bootstrap.task_definition_family, container = "db-bootstrap", security_groups = [module.db_bootstrap.security_group_id] }
      "kafka-topics" = { family = module.kafka_topics.task_definition_family, container = "kafka-topics", security_groups = [module.kafka_topics.security_group_id] }
    },
  )
  passable_roles = concat(
    [for m in values(module.web) : m.task_role_arn], [for m in values(module.web) : m.execution_role_arn],
    [for m in values(module.worker) : m.task_role_arn], [for m in values(module.worker) : m.execution_role_arn],
    [for m in values(module.migrate) : m.task_role_arn], [for m in values(module.migrate) : m.execution_role_arn],
    [module.wallet_grpc.task_role_arn, module.wallet_grpc.execution_role_arn],
    [module.db_bootstrap.task_role_arn, module.db_bootstrap.execution_role_arn],
    [module.kafka_topics.task_role_arn, module.kafka_topics.execution_role_arn],
  )
}

resource "aws_iam_openid_connect_provider" "github" {
  count          = var.create_github_oidc_provider ? 1 : 0
  url            = local.github_oidc_url
  client_id_list = ["sts.amazonaws.com"]
}

data "aws_iam_policy_document" "deploy_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    # Only the deploy job of the protected "staging" environment of this repository.
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:environment:${var.environment}"]
    }
  }
}

resource "aws_iam_role" "deploy" {
  name                 = "${local.name}-github-deploy"
  assume_role_policy   = data.aws_iam_policy_document.deploy_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "deploy" {
  # checkov:skip=CKV_AWS_356: ecr:GetAuthorizationToken and ecs task definition registration have no resource-level permissions
  # checkov:skip=CKV_AWS_111: ecr:GetAuthorizationToken and ecs task definition registration have no resource-level permissions
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid = "PushImage"
    actions = [
      "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload",
      "ecr:DescribeImages", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart",
    ]
    resources = [module.ecr.repository_arn]
  }
  statement {
    sid       = "TaskDefinitions"
    actions   = ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"]
    resources = ["*"]
  }
  statement {
    sid       = "UpdateServices"
    actions   = ["ecs:DescribeServices", "ecs:UpdateService"]
    resources = ["arn:${data.aws_partition.current.partition}:ecs:${var.region}:${var.account_id}:service/${module.cluster.cluster_name}/*"]
  }
  statement {
    sid       = "RunOneShotTasks"
    actions   = ["ecs:RunTask"]
    resources = [for t in values(local.one_shot_tasks) : "arn:${data.aws_partition.current.partition}:ecs:${var.region}:${var.account_id}:task-definition/${t.family}:*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [module.cluster.cluster_arn]
    }
  }
  statement {
    sid       = "WatchTasks"
    actions   = ["ecs:DescribeTasks"]
    resources = ["arn:${data.aws_partition.current.partition}:ecs:${var.region}:${var.account_id}:task/${module.cluster.cluster_name}/*"]
  }
  statement {
    sid       = "PassTaskRoles"
    actions   = ["iam:PassRole"]
    resources = local.passable_roles
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
  statement {
    sid       = "ReadDeployConfig"
    actions   = ["ssm:GetParameter"]
    resources = [aws_ssm_parameter.deploy.arn]
  }
  statement {
    sid       = "DecryptDeployConfigAndImages"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [module.kms.key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["ssm.${var.region}.amazonaws.com", "ecr.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "deploy" {
  name   = "deploy-loyalty"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.deploy.json
}

# What the deploy workflow needs to know, so the workflow holds no environment details.
resource "aws_ssm_parameter" "deploy" {
  name   = "/loyalty/${var.environment}/deploy"
  type   = "SecureString"
  key_id = module.kms.key_arn
  tier   = "Advanced"
  value = jsonencode({
    cluster        = module.cluster.cluster_name
    repository     = module.ecr.repository_url
    subnets        = module.network.private_subnet_ids
    services       = local.deployed_services
    one_shot_tasks = local.one_shot_tasks
    migrations     = [for k in keys(module.migrate) : "${k}-migrate"]
  })
  description = "Deployment map of the loyalty platform (read by the GitHub deploy workflow)"
}
