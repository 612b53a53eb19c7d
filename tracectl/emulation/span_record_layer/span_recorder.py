"""Appends each finished span to a file, one base64 OTLP protobuf export request per line.

Imported by this layer's `sitecustomize` inside a function's process and by tracectl itself (the
demo's uploader); tracectl.emulation.span_record reads the lines back. Needs only the OpenTelemetry SDK and
OTLP encoder the function bundle already ships.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

_logger = logging.getLogger(__name__)
RECORD_ENV = "TRACECTL_SPAN_RECORD"
"""The file a function's layer appends to."""


class SpanRecorder(SpanProcessor):
    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()

    def on_end(self, span: ReadableSpan) -> None:
        try:
            line = base64.b64encode(encode_spans([span]).SerializeToString()).decode()
            with self._lock, open(self._path, "a") as out:
                out.write(line + "\n")
        except Exception:  # a span processor that raises fails the handler: never
            _logger.exception("span record: could not record a span")


def record_from_environment(trace_api: Any) -> None:
    """Add a recorder to whichever provider the function sets globally, if RECORD_ENV names a file."""
    path = os.environ.get(RECORD_ENV)
    if not path:
        return
    original = trace_api.set_tracer_provider

    def set_tracer_provider(provider: Any) -> None:
        original(provider)
        if hasattr(provider, "add_span_processor"):
            provider.add_span_processor(SpanRecorder(path))

    trace_api.set_tracer_provider = set_tracer_provider
