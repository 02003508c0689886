output "alarm_topic_arn" {
  description = "SNS topic receiving every alarm (subscribe on-call tooling to it)."
  value       = aws_sns_topic.alarms.arn
}
