"""Twin traced with this project's bootstrap (functions/tracing)."""

import os

import boto3

from functions.tracing import traced

dynamodb = boto3.client("dynamodb")
sns = boto3.client("sns")


@traced
def handler(event, context):
    dynamodb.update_item(
        TableName=os.environ["TABLE_NAME"],
        Key={"path": {"S": event["path"]}},
        UpdateExpression="ADD hits :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    sns.publish(TopicArn=os.environ["TOPIC_ARN"], Message=event["path"])
    return {"statusCode": 200}
