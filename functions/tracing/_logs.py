"""JSON log lines that join with traces in either backend.

Each line carries `trace_id` (32 hex, Jaeger), `xray_trace_id` (`1-…-…`, X-Ray), `span_id`,
`cold_start`, `function_name` and `request_id` of the current invocation. URLs and credential
fields are redacted as in spans (functions/tracing/_redaction.py).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

from functions.tracing import _settings
from functions.tracing._ids import to_xray_id
from functions.tracing._redaction import redact_attribute, redact_text
from functions.tracing._state import current_invocation


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        request_id, cold_start = current_invocation.get()
        line: dict[str, object] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "message": redact_text(record.getMessage()),
            "logger": record.name,
            "function_name": os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or os.environ.get("OTEL_SERVICE_NAME"),
            "request_id": request_id,
            "cold_start": cold_start,
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            line["trace_id"] = f"{context.trace_id:032x}"
            line["xray_trace_id"] = to_xray_id(context.trace_id)
            line["span_id"] = f"{context.span_id:016x}"
        for key, value in getattr(record, "fields", {}).items():
            line.setdefault(key, redact_attribute(key, value))
        if record.exc_info:
            line["exception"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(line, default=str)


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever `sys.stdout` is when a line is logged (fixed in Lambda; tests capture theirs)."""

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def get_logger(name: str) -> logging.Logger:
    """A logger writing JSON lines to stdout (Lambda sends stdout to CloudWatch Logs).

    Extra fields: `logger.info("saved", extra={"fields": {"path": "/a"}})`.
    """
    logger = logging.getLogger(name)
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(_settings.log_level())
        logger.propagate = False
    return logger
