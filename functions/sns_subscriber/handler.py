"""SNS `fanout` → the end of the line: log what arrived."""

from __future__ import annotations

from typing import Any

from functions import messages
from functions.tracing import LambdaContext, annotate, get_logger, traced

log = get_logger(__name__)


@traced
def handler(event: Any, context: LambdaContext) -> dict[str, int]:
    paths = messages.sns_paths(event)
    for path in paths:
        annotate("request_path", path)
        log.info("received", extra={"fields": {"path": path}})
    return {"received": len(paths)}
