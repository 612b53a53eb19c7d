"""Trace context on SQS SendMessage / SendMessageBatch, which botocore's instrumentation does not inject.

Used as the botocore instrumentation's request hook, so it runs inside the SQS client span:
the consumer's parent is the send. Never overwrites an attribute the caller set, adds nothing
when the caller already set a trace-context attribute of its own, and never exceeds SQS's limit
of 10 message attributes; a message that cannot carry the context is sent unchanged (its
consumer then relies on `AWSTraceHeader`).
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry import propagate

_logger = logging.getLogger(__name__)
MAX_MESSAGE_ATTRIBUTES = 10


def inject_sqs_trace_context(span: Any, service_name: str, operation_name: str, api_params: Any) -> None:
    try:
        if service_name != "sqs" or not isinstance(api_params, dict):
            return
        if operation_name == "SendMessage":
            _inject(api_params)
        elif operation_name == "SendMessageBatch":
            for entry in api_params.get("Entries") or []:
                if isinstance(entry, dict):
                    _inject(entry)
    except Exception:  # telemetry never breaks the handler: log and go on
        _logger.warning("tracing: could not inject trace context into an SQS message", exc_info=True)


def _inject(message: dict) -> None:
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
