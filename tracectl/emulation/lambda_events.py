"""Lambda events in AWS's exact shapes, built from what the emulator actually delivered.

- `api_gateway_event`: the REST API (v1) proxy integration event.
- `sns_event`: SNS → Lambda, from the notification JSON an SNS → SQS tap queue received.
- `sqs_event`: SQS → Lambda, from ReceiveMessage output (AttributeNames/MessageAttributeNames All).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tracectl.emulator_identity import ACCOUNT, REGION  # stdlib only: the benchmark's cold processes import this


def api_gateway_event(
    method: str, path: str, *, headers: dict[str, str] | None = None, body: str | None = None
) -> dict:
    request_id = str(uuid.uuid4())
    headers = {"Host": "local.execute-api.localhost", "User-Agent": "tracectl", **(headers or {})}
    now = time.time()
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": f"/prod{path}",
            "accountId": ACCOUNT,
            "protocol": "HTTP/1.1",
            "stage": "prod",
            "domainPrefix": "local",
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": {"sourceIp": "127.0.0.1", "userAgent": headers["User-Agent"]},
            "domainName": headers["Host"],
            "apiId": "local",
        },
        "body": body,
        "isBase64Encoded": False,
    }


def sns_event(notification_json: str, subscription_arn: str) -> dict:
    """SNS → Lambda event for one notification (the body an SNS → SQS subscription delivered)."""
    n = json.loads(notification_json)
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": n.get("Type", "Notification"),
                    "MessageId": n["MessageId"],
                    "TopicArn": n["TopicArn"],
                    "Subject": n.get("Subject"),
                    "Message": n["Message"],
                    "Timestamp": n["Timestamp"],
                    "SignatureVersion": n.get("SignatureVersion", "1"),
                    "Signature": n.get("Signature", ""),
                    "SigningCertUrl": n.get("SigningCertURL", ""),
                    "UnsubscribeUrl": n.get("UnsubscribeURL", ""),
                    "MessageAttributes": n.get("MessageAttributes", {}),
                },
            }
        ]
    }


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict:
    """SQS → Lambda event for a batch of ReceiveMessage results."""
    return {"Records": [_sqs_record(m, queue_arn) for m in messages]}


def _sqs_record(message: dict[str, Any], queue_arn: str) -> dict:
    attributes = {
        k: v
        for k, v in (message.get("Attributes") or {}).items()
        if k
        in (
            "ApproximateReceiveCount",
            "SentTimestamp",
            "SenderId",
            "ApproximateFirstReceiveTimestamp",
            "AWSTraceHeader",
        )
    }
    message_attributes = {
        name: {
            **({"stringValue": a["StringValue"]} if "StringValue" in a else {}),
            **({"binaryValue": a["BinaryValue"]} if "BinaryValue" in a else {}),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": a["DataType"],
        }
        for name, a in (message.get("MessageAttributes") or {}).items()
    }
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record
