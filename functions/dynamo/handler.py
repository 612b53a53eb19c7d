"""SNS `ingest` → count hits per path in DynamoDB; the item keeps the writer's trace context for
the table's stream consumer (`stream`)."""

from __future__ import annotations

import os
from typing import Any

import boto3

from functions import messages
from functions.tracing import LambdaContext, annotate, get_logger, item_trace_context, traced

log = get_logger(__name__)
dynamodb = boto3.client("dynamodb")


@traced
def handler(event: Any, context: LambdaContext) -> dict[str, int]:
    counted = 0
    for path in messages.sns_paths(event):
        annotate("request_path", path)
        trace = item_trace_context()
        response = dynamodb.update_item(
            TableName=os.environ["TABLE_NAME"],
            Key={"path": {"S": path}},
            UpdateExpression="ADD hits :one" + (" SET traceparent = :trace" if trace else ""),
            ExpressionAttributeValues={":one": {"N": "1"}, **({":trace": trace["traceparent"]} if trace else {})},
            ReturnValues="UPDATED_NEW",
        )
        hits = int(response["Attributes"]["hits"]["N"])
        annotate("hit_count", hits)
        log.info("counted", extra={"fields": {"path": path, "hits": hits}})
        counted += 1
    return {"counted": counted}
