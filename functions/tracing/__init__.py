"""The tracing bootstrap every handler shares (configured only by the standard `OTEL_*` env vars).

from functions.tracing import traced, annotate, get_logger

@traced
def handler(event, context): ...
"""

from functions.tracing.annotations import add_metadata, annotate
from functions.tracing.bootstrap import flush, setup
from functions.tracing.ids import from_xray_id, to_xray_id
from functions.tracing.invocation import LambdaContext, current_trace_ids, process_record, traced
from functions.tracing.logs import get_logger
from functions.tracing.message_injection import item_trace_context

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
    "setup",
    "to_xray_id",
    "traced",
]
