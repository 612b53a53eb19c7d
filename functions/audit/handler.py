"""EventBridge `request.received` → the audit trail: log which path was requested.

In X-Ray modes EventBridge hands the PutEvents request's trace header to this target; in Jaeger
mode the event's `detail._trace` carries it.
"""

from __future__ import annotations

from typing import Any

from functions import messages
from functions.tracing import LambdaContext, annotate, get_logger, traced

log = get_logger(__name__)


@traced
def handler(event: Any, context: LambdaContext) -> dict[str, int]:
    path = messages.event_path(event)
    if path is None:
        log.warning("not a request event; ignored")
        return {"audited": 0}
    annotate("request_path", path)
    log.info("audited", extra={"fields": {"path": path}})
    return {"audited": 1}
