"""API Gateway → publish the request path to the `ingest` topic; answer with the trace id."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

from functions import messages
from functions.tracing import LambdaContext, annotate, current_trace_ids, get_logger, traced

log = get_logger(__name__)
sns = boto3.client("sns")  # honours AWS_ENDPOINT_URL, so the same code runs against moto locally


@traced
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    raw_path = event.get("path") if isinstance(event, dict) else None
    path = raw_path[: messages.MAX_PATH_LENGTH] if isinstance(raw_path, str) else "/"
    annotate("request_path", path)
    sns.publish(TopicArn=os.environ["TOPIC_ARN"], Message=messages.encode(path))
    trace_id, xray_trace_id = current_trace_ids() or ("", "")
    log.info("published", extra={"fields": {"path": path}})
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "x-trace-id": trace_id, "x-xray-trace-id": xray_trace_id},
        "body": json.dumps({"path": path, "trace_id": trace_id, "xray_trace_id": xray_trace_id}),
    }
