"""Reading Lambda events as AWS delivers them, defensively: which trigger, and the trace context it carries.

Every function here accepts any value (a malformed or unknown event included) and never raises:
tracing must not fail the handler. Carriers are dicts with lower-cased keys, read with
`carrier_getter` (case-insensitive, as HTTP headers are), so `Traceparent` matches `traceparent`.

Where a trigger carries no context of its own (Jaeger mode: AWS propagates nothing), the producer
puts W3C context into the message itself, and the consumer reads it from there:
- EventBridge: `detail._trace` = {"traceparent": …, "tracestate": …} (`EVENTBRIDGE_TRACE_KEY`);
- DynamoDB Streams: the item's `traceparent` string attribute (`ITEM_TRACE_ATTRIBUTE`), which the
  stream record carries in `NewImage` (or `OldImage` for a removal);
- Kafka (MSK, self-managed): the record's `traceparent`/`tracestate` headers.
"""

from __future__ import annotations

from typing import Any, Literal

from opentelemetry.propagators.textmap import Getter

Trigger = Literal[
    "api",  # API Gateway REST (v1) proxy
    "http_api",  # API Gateway HTTP API (v2)
    "function_url",  # Lambda function URL (the v2 shape)
    "alb",  # Application Load Balancer target
    "websocket",  # API Gateway WebSocket
    "sns",
    "sqs",
    "s3",
    "dynamodb",  # DynamoDB Streams
    "kinesis",
    "eventbridge",
    "schedule",  # EventBridge scheduled rule / Scheduler ("Scheduled Event")
    "kafka",  # MSK or self-managed Kafka
    "other",
]
HTTP_TRIGGERS = ("api", "http_api", "function_url", "alb")
BATCH_TRIGGERS = ("sns", "sqs", "dynamodb", "kinesis", "kafka")
TRACE_KEYS = ("traceparent", "x-amzn-trace-id")
EVENTBRIDGE_TRACE_KEY = "_trace"
ITEM_TRACE_ATTRIBUTE = "traceparent"
_RECORD_SOURCES: dict[str, Trigger] = {
    "aws:sns": "sns",
    "aws:sqs": "sqs",
    "aws:s3": "s3",
    "aws:dynamodb": "dynamodb",
    "aws:kinesis": "kinesis",
}


class _CaseInsensitiveGetter(Getter[dict[str, str]]):
    def get(self, carrier: dict[str, str], key: str) -> list[str] | None:
        wanted = key.lower()
        for name, value in carrier.items():
            if name.lower() == wanted:
                return [value]
        return None

    def keys(self, carrier: dict[str, str]) -> list[str]:
        return list(carrier)


carrier_getter = _CaseInsensitiveGetter()


def trigger_of(event: Any) -> Trigger:
    if not isinstance(event, dict):
        return "other"
    context = event.get("requestContext")
    if isinstance(context, dict):
        if "elb" in context and "httpMethod" in event:
            return "alb"
        if "connectionId" in context and "eventType" in context:
            return "websocket"
        if "httpMethod" in event:
            return "api"
        if isinstance(context.get("http"), dict):
            return "function_url" if ".lambda-url." in str(context.get("domainName", "")) else "http_api"
    if event.get("eventSource") in ("aws:kafka", "SelfManagedKafka") and isinstance(event.get("records"), dict):
        return "kafka"
    first = records(event)[:1]
    if first:
        source = first[0].get("EventSource") or first[0].get("eventSource")
        return _RECORD_SOURCES.get(source, "other") if isinstance(source, str) else "other"
    if isinstance(event.get("detail-type"), str) and "source" in event and "detail" in event:
        return "schedule" if event["detail-type"] == "Scheduled Event" else "eventbridge"
    return "other"


def records(event: Any) -> list[dict]:
    """The event's records that are dicts (`Records`, or Kafka's `records` by partition); [] otherwise."""
    if not isinstance(event, dict):
        return []
    found = event.get("Records")
    if isinstance(event.get("records"), dict):  # Kafka: {"topic-partition": [record, …]}
        found = [r for batch in event["records"].values() if isinstance(batch, list) for r in batch]
    return [r for r in found if isinstance(r, dict)] if isinstance(found, list) else []


def api_carrier(event: dict) -> dict[str, str]:
    return _strings(event.get("headers"), lambda v: v)


def sns_carrier(record: dict) -> dict[str, str]:
    sns = record.get("Sns")
    attributes = sns.get("MessageAttributes") if isinstance(sns, dict) else None
    return _strings(attributes, lambda v: v.get("Value") if isinstance(v, dict) and v.get("Type") == "String" else None)


def sqs_carrier(record: dict) -> dict[str, str]:
    carrier = _strings(
        record.get("messageAttributes"),
        lambda v: v.get("stringValue") if isinstance(v, dict) and v.get("dataType") == "String" else None,
    )
    attributes = record.get("attributes")
    header = attributes.get("AWSTraceHeader") if isinstance(attributes, dict) else None
    if isinstance(header, str):
        # X-Ray's own header, set by SQS from the sender's trace: used when no attribute says otherwise.
        carrier.setdefault("x-amzn-trace-id", header)
    return carrier


def dynamodb_carrier(record: dict) -> dict[str, str]:
    change = record.get("dynamodb")
    if not isinstance(change, dict):
        return {}
    image = change.get("NewImage") if isinstance(change.get("NewImage"), dict) else change.get("OldImage")
    value = image.get(ITEM_TRACE_ATTRIBUTE) if isinstance(image, dict) else None
    text = value.get("S") if isinstance(value, dict) else None
    return {"traceparent": text} if isinstance(text, str) else {}


def kafka_carrier(record: dict) -> dict[str, str]:
    """Kafka record headers arrive as [{"name": [byte values]}]."""
    carrier: dict[str, str] = {}
    headers = record.get("headers")
    for header in headers if isinstance(headers, list) else []:
        for name, raw in header.items() if isinstance(header, dict) else ():
            try:
                value = bytes(raw).decode() if isinstance(raw, list) else None
            except (TypeError, ValueError):
                value = None
            if isinstance(name, str) and value is not None:
                carrier[name.lower()] = value
    return carrier


def eventbridge_carrier(event: dict) -> dict[str, str]:
    detail = event.get("detail")
    return _strings(detail.get(EVENTBRIDGE_TRACE_KEY) if isinstance(detail, dict) else None, lambda v: v)


def record_carrier(record: dict) -> dict[str, str]:
    source = record.get("EventSource") or record.get("eventSource")
    if source == "aws:sns":
        return sns_carrier(record)
    if source == "aws:dynamodb":
        return dynamodb_carrier(record)
    if "topic" in record and "partition" in record:
        return kafka_carrier(record)
    return sqs_carrier(record)


def has_trace_context(carrier: dict[str, str]) -> bool:
    return any(key in carrier for key in TRACE_KEYS)


def source_name(record: dict) -> str | None:
    """The topic, queue, stream or table a record came from (from its ARN or, for Kafka, its topic)."""
    if isinstance(record.get("topic"), str):
        return record["topic"]
    s3 = record.get("s3")
    if isinstance(s3, dict):
        bucket = s3.get("bucket")
        name = bucket.get("name") if isinstance(bucket, dict) else None
        return name if isinstance(name, str) else None
    sns = record.get("Sns")
    arn = sns.get("TopicArn") if isinstance(sns, dict) else record.get("eventSourceARN")
    parts = arn.split(":") if isinstance(arn, str) else []
    if len(parts) <= 5:
        return None
    resource = parts[5]
    # kinesis `stream/NAME`, dynamodb `table/NAME/stream/…`; sns/sqs: the name itself
    return resource.split("/")[1] if "/" in resource and len(resource.split("/")) > 1 else resource


def _strings(mapping: Any, value_of: Any) -> dict[str, str]:
    if not isinstance(mapping, dict):
        return {}
    out: dict[str, str] = {}
    for key, raw in mapping.items():
        value = value_of(raw)
        if isinstance(key, str) and isinstance(value, str):
            out[key.lower()] = value
    return out
