"""The same handler four ways: 1 DynamoDB UpdateItem + 1 SNS Publish per invocation.

`handle` is the work; each twin module exposes it as `handler`, traced its own way (or not).
"""

from __future__ import annotations

import os
from typing import Any

import boto3

dynamodb = boto3.client("dynamodb")
sns = boto3.client("sns")


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    dynamodb.update_item(
        TableName=os.environ["TABLE_NAME"],
        Key={"path": {"S": event["path"]}},
        UpdateExpression="ADD hits :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    sns.publish(TopicArn=os.environ["TOPIC_ARN"], Message=event["path"])
    return {"statusCode": 200}
