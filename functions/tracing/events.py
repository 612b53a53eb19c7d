"""Reading Lambda events as they arrive from API Gateway, SNS and SQS, defensively.

Every function here accepts any value (a malformed or unknown event included) and never raises:
tracing must not fail the handler. Carriers are dicts with lower-cased keys, read with
`carrier_getter` (case-insensitive, as HTTP headers are), so `Traceparent` matches `traceparent`.
"""

from __future__ import annotations

from typing import Any, Literal

from opentelemetry.propagators.textmap import Getter

Trigger = Literal["api", "sns", "sqs", "other"]
TRACE_KEYS = ("traceparent", "x-amzn-trace-id")


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
    if "httpMethod" in event and isinstance(event.get("requestContext"), dict):
        return "api"
    first = records(event)[:1]
    if first:
        source = first[0].get("EventSource") or first[0].get("eventSource")
        if source == "aws:sns":
            return "sns"
        if source == "aws:sqs":
            return "sqs"
    return "other"


def records(event: Any) -> list[dict]:
    """The event's `Records` that are dicts; [] for anything else."""
    found = event.get("Records") if isinstance(event, dict) else None
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


def record_carrier(record: dict) -> dict[str, str]:
    source = record.get("EventSource") or record.get("eventSource")
    return sns_carrier(record) if source == "aws:sns" else sqs_carrier(record)


def has_trace_context(carrier: dict[str, str]) -> bool:
    return any(key in carrier for key in TRACE_KEYS)


def source_name(record: dict) -> str | None:
    """The topic or queue name from a record's ARN (`arn:aws:sns:region:acct:NAME[:sub-id]`)."""
    sns = record.get("Sns")
    arn = sns.get("TopicArn") if isinstance(sns, dict) else record.get("eventSourceARN")
    parts = arn.split(":") if isinstance(arn, str) else []
    return parts[5] if len(parts) > 5 else None


def _strings(mapping: Any, value_of: Any) -> dict[str, str]:
    if not isinstance(mapping, dict):
        return {}
    out: dict[str, str] = {}
    for key, raw in mapping.items():
        value = value_of(raw)
        if isinstance(key, str) and isinstance(value, str):
            out[key.lower()] = value
    return out
