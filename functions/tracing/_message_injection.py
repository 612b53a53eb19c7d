"""Trace context in the messages botocore's instrumentation does not inject into: SQS, EventBridge,
and (explicitly, through `item_trace_context`) DynamoDB items a stream consumer will read.

Used as the botocore instrumentation's request hook, so it runs inside the client span: the
consumer's parent is the send. Never raises, and never changes what the caller set:
- SQS SendMessage / SendMessageBatch: message attributes; nothing is added when the caller set a
  trace-context attribute of its own, or past SQS's limit of 10 message attributes (the consumer
  then relies on `AWSTraceHeader`).
- EventBridge PutEvents: `detail._trace` (`EVENTBRIDGE_TRACE_KEY`) in each entry whose
  Detail is a JSON object without that key, unless the entry would then pass EventBridge's
  256 KB entry size. In X-Ray modes EventBridge also passes the X-Ray header to its targets
  (from the PutEvents request, which botocore's instrumentation sets); in Jaeger mode this field
  is the only way the target's span finds its producer.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from opentelemetry import propagate

from functions.tracing._events import EVENTBRIDGE_TRACE_KEY, ITEM_TRACE_ATTRIBUTE

_logger = logging.getLogger(__name__)
MAX_MESSAGE_ATTRIBUTES = 10
MAX_EVENTBRIDGE_ENTRY_BYTES = 256 * 1024


def inject_trace_context(span: Any, service_name: str, operation_name: str, api_params: Any) -> None:
    try:
        if not isinstance(api_params, dict):
            return
        if service_name == "sqs" and operation_name == "SendMessage":
            _inject_sqs(api_params)
        elif service_name == "sqs" and operation_name == "SendMessageBatch":
            for entry in _dicts(api_params.get("Entries")):
                _inject_sqs(entry)
        elif service_name == "events" and operation_name == "PutEvents":
            for entry in _dicts(api_params.get("Entries")):
                _inject_eventbridge(entry)
    except Exception:  # telemetry never breaks the handler: log and go on
        _logger.warning("tracing: could not inject trace context into a %s message", service_name, exc_info=True)


def _dicts(value: Any) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _inject_sqs(message: dict) -> None:
    existing = message.get("MessageAttributes")
    if existing is not None and not isinstance(existing, dict):
        return
    existing = existing or {}
    fields = propagate.get_global_textmap().fields
    if any(name.lower() in fields for name in existing):
        # The caller manages this message's context: adding ours could contradict it.
        return
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    new = {k: v for k, v in carrier.items() if k not in existing}
    if len(existing) + len(new) > MAX_MESSAGE_ATTRIBUTES:
        _logger.info("tracing: SQS message has %d attributes; trace context not added", len(existing))
        return
    if new:
        message["MessageAttributes"] = {
            **existing,
            **{k: {"DataType": "String", "StringValue": v} for k, v in new.items()},
        }


def _inject_eventbridge(entry: dict) -> None:
    raw = entry.get("Detail")
    if not isinstance(raw, str):
        return
    try:
        detail = json.loads(raw)
    except ValueError:
        return  # not JSON: EventBridge itself will refuse it; not ours to touch
    if not isinstance(detail, dict) or EVENTBRIDGE_TRACE_KEY in detail:
        return
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    if not carrier:
        return
    new_detail = json.dumps({**detail, EVENTBRIDGE_TRACE_KEY: carrier}, separators=(",", ":"))
    if _entry_size({**entry, "Detail": new_detail}) > MAX_EVENTBRIDGE_ENTRY_BYTES:
        _logger.info("tracing: EventBridge entry near its size limit; trace context not added")
        return
    entry["Detail"] = new_detail


def _entry_size(entry: dict) -> int:
    """An entry's size as EventBridge counts it (Time 14 bytes, Source, DetailType, Detail, Resources)."""
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        if isinstance(entry.get(key), str):
            size += len(entry[key].encode())
    resources = entry.get("Resources")
    return size + sum(len(r.encode()) for r in resources if isinstance(r, str)) if isinstance(resources, list) else size


def item_trace_context() -> dict[str, dict[str, str]]:
    """`{"traceparent": {"S": …}}` for the current span, to store in an item a DynamoDB stream will carry.

    The stream consumer's record span then continues this writer's trace (DynamoDB Streams carry
    no trace header, in X-Ray modes either). Empty when there is no current trace; never raises.
    """
    try:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        value = carrier.get("traceparent")
        return {ITEM_TRACE_ATTRIBUTE: {"S": value}} if value else {}
    except Exception:  # telemetry never breaks the handler: log and go on
        _logger.warning("tracing: could not read the trace context for an item", exc_info=True)
        return {}
