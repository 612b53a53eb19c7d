"""What an invocation span is called and says, per trigger, by the OpenTelemetry semantic conventions.

`describe(trigger, event)` gives the span's name, kind, `faas.trigger` and attributes; where the
parent comes from is `invocation`'s business. Conventions followed:
- HTTP (API Gateway REST and HTTP APIs, function URLs, ALB): SERVER `{method} {route}`,
  `faas.trigger=http` and the stable HTTP attributes (`http.request.method`, `http.route`,
  `url.path`, `url.scheme`, `server.address`/`server.port` from the Host header,
  `user_agent.original`; the response's `http.response.status_code`), which the awsxray exporter
  maps onto the segment's `http` block as it does the pre-1.20 names;
- messaging (SNS, SQS, Kinesis, Kafka, EventBridge): CONSUMER `{destination} process`,
  `faas.trigger=pubsub`, `messaging.*` with `messaging.operation.type=process`;
- data sources (S3, DynamoDB Streams): `faas.trigger=datasource` and `faas.document.*`
  (collection = bucket or table, operation insert|edit|delete, name = object key, time);
  S3 is SERVER `{bucket} {operation}`; a DynamoDB stream batch is CONSUMER `{table} process`,
  since, like a queue, it carries its writers' trace contexts record by record;
- schedules: SERVER `{rule} timer`, `faas.trigger=timer`, `faas.time`;
- WebSocket routes: SERVER `WebSocket {routeKey}`, `faas.trigger=other`; anything else: SERVER
  `invocation`, `faas.trigger=other`.
Reads any value without raising on shapes it knows; `invocation` falls back to `other` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opentelemetry.semconv.attributes.http_attributes import HTTP_REQUEST_METHOD, HTTP_ROUTE
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT
from opentelemetry.semconv.attributes.url_attributes import URL_PATH, URL_SCHEME
from opentelemetry.semconv.attributes.user_agent_attributes import USER_AGENT_ORIGINAL
from opentelemetry.trace import SpanKind

from functions.tracing import _events

FAAS_TRIGGER = {
    **dict.fromkeys(_events.HTTP_TRIGGERS, "http"),
    **dict.fromkeys(("sns", "sqs", "kinesis", "kafka", "eventbridge"), "pubsub"),
    "s3": "datasource",
    "dynamodb": "datasource",
    "schedule": "timer",
    "websocket": "other",
    "other": "other",
}
MESSAGING_SYSTEM = {"sns": "aws.sns", "sqs": "aws_sqs", "kinesis": "aws.kinesis", "kafka": "kafka"}
_DOCUMENT_OPERATION = {"INSERT": "insert", "MODIFY": "edit", "REMOVE": "delete"}


@dataclass
class Description:
    name: str
    kind: SpanKind
    attributes: dict[str, Any] = field(default_factory=dict)


def describe(trigger: str, event: Any) -> Description:
    if trigger in _events.HTTP_TRIGGERS:
        return _http(trigger, event)
    if trigger in _events.BATCH_TRIGGERS:
        return _batch(trigger, event)
    if trigger == "s3":
        return _s3(_events.records(event)[0])
    if trigger == "eventbridge":
        source = str(event.get("source") or "eventbridge")
        attributes = {
            "messaging.operation.type": "process",
            "messaging.destination.name": source,
            "messaging.message.id": str(event.get("id", "")),
            "aws.eventbridge.detail_type": str(event.get("detail-type", "")),
        }
        return Description(f"{source} process", SpanKind.CONSUMER, attributes)
    if trigger == "schedule":
        resources = event.get("resources")
        arn = resources[0] if isinstance(resources, list) and resources and isinstance(resources[0], str) else ""
        rule = arn.rsplit("/", 1)[-1] or "schedule"
        return Description(f"{rule} timer", SpanKind.SERVER, {"faas.time": str(event.get("time", ""))})
    if trigger == "websocket":
        context = event["requestContext"]
        route = str(context.get("routeKey") or event.get("routeKey") or "$default")
        attributes = {"aws.apigateway.websocket.event_type": str(context.get("eventType", ""))}
        return Description(f"WebSocket {route}", SpanKind.SERVER, attributes)
    return Description("invocation", SpanKind.SERVER)


def http_headers(trigger: str, event: dict) -> dict[str, str]:
    """The request's headers, lower-cased (ALB with multi-value headers: the first of each)."""
    headers = _events.api_carrier(event)
    if not headers and trigger == "alb":
        multi = event.get("multiValueHeaders")
        for name, values in multi.items() if isinstance(multi, dict) else ():
            if isinstance(name, str) and isinstance(values, list) and values and isinstance(values[0], str):
                headers[name.lower()] = values[0]
    return headers


def _http(trigger: str, event: dict) -> Description:
    headers = http_headers(trigger, event)
    if trigger in ("api", "alb"):
        method = str(event.get("httpMethod") or "HTTP")
        target = str(event.get("path") or "/")
        route = str(event.get("resource") or target) if trigger == "api" else target
    else:  # HTTP API v2 and function URLs
        request = event["requestContext"]["http"]
        method = str(request.get("method") or "HTTP")
        target = str(event.get("rawPath") or request.get("path") or "/")
        route_key = str(event.get("routeKey") or "$default")
        route = route_key.split(" ", 1)[1] if " " in route_key else target
    attributes: dict[str, Any] = {
        HTTP_REQUEST_METHOD: method,
        HTTP_ROUTE: route,
        URL_PATH: target,
        URL_SCHEME: "https" if trigger != "alb" else str(headers.get("x-forwarded-proto", "http")),
    }
    host, _, port = str(headers.get("host", "")).partition(":")
    if host:
        attributes[SERVER_ADDRESS] = host
    if port.isdigit():
        attributes[SERVER_PORT] = int(port)
    if "user-agent" in headers:
        attributes[USER_AGENT_ORIGINAL] = headers["user-agent"]
    return Description(f"{method} {route}", SpanKind.SERVER, attributes)


def _batch(trigger: str, event: dict) -> Description:
    records = _events.records(event)
    source = _events.source_name(records[0]) or trigger
    attributes: dict[str, Any] = {
        "messaging.operation.type": "process",
        "messaging.destination.name": source,
        "messaging.batch.message_count": len(records),
    }
    if trigger in MESSAGING_SYSTEM:
        attributes["messaging.system"] = MESSAGING_SYSTEM[trigger]
    if trigger == "dynamodb":
        operations = {_DOCUMENT_OPERATION.get(str(r.get("eventName")), "edit") for r in records}
        attributes["faas.document.collection"] = source
        attributes["faas.document.operation"] = operations.pop() if len(operations) == 1 else "edit"
    if len(records) == 1:
        sns = records[0].get("Sns")
        message_id = records[0].get("messageId") or (sns.get("MessageId") if isinstance(sns, dict) else None)
        if isinstance(message_id, str):
            attributes["messaging.message.id"] = message_id
    return Description(f"{source} process", SpanKind.CONSUMER, attributes)


def _s3(record: dict) -> Description:
    s3 = _dict(record.get("s3"))
    bucket, obj = _dict(s3.get("bucket")), _dict(s3.get("object"))
    event_name = str(record.get("eventName", ""))
    operation = "insert" if event_name.startswith("ObjectCreated") else (
        "delete" if event_name.startswith("ObjectRemoved") else "edit"
    )
    collection = str(bucket.get("name") or "s3")
    attributes = {
        "faas.document.collection": collection,
        "faas.document.operation": operation,
        "faas.document.name": str(obj.get("key", "")),
        "faas.document.time": str(record.get("eventTime", "")),
    }
    return Description(f"{collection} {operation}", SpanKind.SERVER, attributes)


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}
