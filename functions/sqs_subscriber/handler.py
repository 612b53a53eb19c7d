"""SQS work queue → consume a batch; bad records are reported so SQS retries them, then dead-letters them."""

from __future__ import annotations

from typing import Any

from functions import messages
from functions.tracing import LambdaContext, annotate, get_logger, process_record, traced

log = get_logger(__name__)


class UnreadableMessageError(ValueError):
    """The body is not one of the app's messages."""


@traced
def handler(event: Any, context: LambdaContext) -> dict[str, list[dict[str, str]]]:
    records = event.get("Records") if isinstance(event, dict) else None
    records = records if isinstance(records, list) else []
    annotate("message_count", len(records))
    failures = []
    for record in records:
        try:
            with process_record(record):
                path = messages.decode(record.get("body") if isinstance(record, dict) else None)
                if path is None:
                    raise UnreadableMessageError('message body is not {"path": ...}')
                annotate("request_path", path)
                log.info("consumed", extra={"fields": {"path": path}})
        except UnreadableMessageError:
            message_id = record.get("messageId") if isinstance(record, dict) else None
            if isinstance(message_id, str):
                failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}
