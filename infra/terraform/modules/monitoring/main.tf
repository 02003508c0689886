resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alarm_emails)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  actions = [aws_sns_topic.alarms.arn]
}

# Share of requests answered with a 5xx (by the targets or by the load balancer itself).
resource "aws_cloudwatch_metric_alarm" "alb_5xx_rate" {
  alarm_name          = "${var.name}-alb-5xx-rate"
  alarm_description   = "More than ${var.alb_5xx_rate_threshold}% of API requests failed with a 5xx."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alb_5xx_rate_threshold
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  metric_query {
    id          = "rate"
    expression  = "IF(requests > 0, 100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests, 0)"
    label       = "5xx rate (%)"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = { requests = "RequestCount", target5xx = "HTTPCode_Target_5XX_Count", elb5xx = "HTTPCode_ELB_5XX_Count" }
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/ApplicationELB"
        metric_name = metric_query.value
        dimensions  = { LoadBalancer = var.alb_arn_suffix }
        period      = 60
        stat        = "Sum"
      }
    }
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "ecs_cpu" {
  for_each            = toset(var.ecs_service_names)
  alarm_name          = "${var.name}-${each.value}-cpu"
  alarm_description   = "${each.value} has used more than ${var.ecs_cpu_threshold}% CPU for 5 minutes (autoscaling is not keeping up)."
  namespace           = "AWS/ECS"
  metric_name         = "CPUUtilization"
  dimensions          = { ClusterName = var.ecs_cluster_name, ServiceName = each.value }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.ecs_cpu_threshold
  treat_missing_data  = "missing"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

# Highest offset lag of any consumer group on any topic of the cluster (Metrics Insights), so
# a new consumer group is covered without a new alarm.
resource "aws_cloudwatch_metric_alarm" "kafka_consumer_lag" {
  alarm_name          = "${var.name}-kafka-consumer-lag"
  alarm_description   = "A consumer group is more than ${var.kafka_lag_threshold} messages behind on a topic."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.kafka_lag_threshold
  evaluation_periods  = 10
  datapoints_to_alarm = 8
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  metric_query {
    id          = "lag"
    expression  = "SELECT MAX(MaxOffsetLag) FROM SCHEMA(\"AWS/Kafka\", \"Cluster Name\", \"Consumer Group\", Topic) WHERE \"Cluster Name\" = '${var.msk_cluster_name}'"
    label       = "Max consumer offset lag"
    period      = 60
    return_data = true
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "rds_cpu" {
  alarm_name          = "${var.name}-postgres-cpu"
  alarm_description   = "PostgreSQL CPU above 80% for 10 minutes."
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBInstanceIdentifier = var.rds_instance_id }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 10
  comparison_operator = "GreaterThanThreshold"
  threshold           = 80
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "rds_storage" {
  alarm_name          = "${var.name}-postgres-free-storage"
  alarm_description   = "PostgreSQL has less than 10 GiB of free storage."
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  dimensions          = { DBInstanceIdentifier = var.rds_instance_id }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "LessThanThreshold"
  threshold           = 10737418240
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}
