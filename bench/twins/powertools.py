"""Twin traced with Powertools for AWS Lambda's Tracer (aws-xray-sdk, boto3 auto-patched)."""

import os

import boto3
from aws_lambda_powertools import Tracer

tracer = Tracer(service="bench")
dynamodb = boto3.client("dynamodb")
sns = boto3.client("sns")


@tracer.capture_lambda_handler
def handler(event, context):
    dynamodb.update_item(
        TableName=os.environ["TABLE_NAME"],
        Key={"path": {"S": event["path"]}},
        UpdateExpression="ADD hits :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    sns.publish(TopicArn=os.environ["TOPIC_ARN"], Message=event["path"])
    return {"statusCode": 200}
