"""The tracing bootstrap every handler shares (configured only by the standard `OTEL_*` env vars).

    from functions.tracing import traced, annotate, get_logger

    @traced
    def handler(event, context): ...

This module is the package's only door: handlers import from here, never from its `_private`
modules. What each name does is in docs/architecture.md ("How a function is traced").
"""

from functions.tracing._annotations import add_metadata, annotate
from functions.tracing._bootstrap import flush, setup
from functions.tracing._events import records
from functions.tracing._ids import from_xray_id, to_xray_id
from functions.tracing._invocation import LambdaContext, current_trace_ids, process_record, traced
from functions.tracing._logs import get_logger
from functions.tracing._message_injection import item_trace_context

__all__ = [
    "LambdaContext",
    "add_metadata",
    "annotate",
    "current_trace_ids",
    "flush",
    "from_xray_id",
    "get_logger",
    "item_trace_context",
    "process_record",
    "records",
    "setup",
    "to_xray_id",
    "traced",
]
