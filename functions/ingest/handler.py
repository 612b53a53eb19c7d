"""API Gateway → publish the request path to the `ingest` topic and put a `request.received` event
on the app's EventBridge bus; answer with the trace id."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

from functions import messages
from functions.tracing import LambdaContext, annotate, current_trace_ids, get_logger, traced

log = get_logger(__name__)
sns = boto3.client("sns")  # honours AWS_ENDPOINT_URL, so the same code runs against moto locally
eventbridge = boto3.client("events")
# The domain event every request puts on the bus (the names infra/topology.py gives the rule).
EVENT_SOURCE, EVENT_DETAIL_TYPE = "otel-tracer.ingest", "request.received"


@traced
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    raw_path = event.get("path") if isinstance(event, dict) else None
    path = raw_path[: messages.MAX_PATH_LENGTH] if isinstance(raw_path, str) else "/"
    annotate("request_path", path)
    sns.publish(TopicArn=os.environ["TOPIC_ARN"], Message=messages.encode(path))
    eventbridge.put_events(
        Entries=[
            {
                "EventBusName": os.environ["EVENT_BUS_NAME"],
                "Source": EVENT_SOURCE,
                "DetailType": EVENT_DETAIL_TYPE,
                "Detail": messages.encode(path),
            }
        ]
    )
    trace_id, xray_trace_id = current_trace_ids() or ("", "")
    log.info("published", extra={"fields": {"path": path}})
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "x-trace-id": trace_id, "x-xray-trace-id": xray_trace_id},
        "body": json.dumps({"path": path, "trace_id": trace_id, "xray_trace_id": xray_trace_id}),
    }
