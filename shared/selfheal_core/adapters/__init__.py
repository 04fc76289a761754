"""Implementations of the ports: boto3 (DynamoDB, S3, Glue, CloudWatch Logs, SNS, SSM) and SQLite."""
