"""The hits table's DynamoDB stream → react to milestone counts (every `MILESTONE`th hit of a path).

Each record continues the trace of the request that wrote it (the item's `traceparent`, stored by
`dynamo`), so the stream hop is part of that request's trace in X-Ray and in Jaeger alike.
"""

from __future__ import annotations

from typing import Any

from functions.tracing import LambdaContext, annotate, get_logger, process_record, records, traced

log = get_logger(__name__)
MILESTONE = 10


@traced
def handler(event: Any, context: LambdaContext) -> dict[str, int]:
    milestones = 0
    for record in records(event):
        with process_record(record):
            path, hits = _path_and_hits(record)
            if path is None:
                continue
            annotate("request_path", path)
            annotate("hit_count", hits)
            if hits and hits % MILESTONE == 0:
                milestones += 1
                log.info("milestone", extra={"fields": {"path": path, "hits": hits}})
    return {"milestones": milestones}


def _path_and_hits(record: dict) -> tuple[str | None, int]:
    change = record.get("dynamodb")
    image = change.get("NewImage") if isinstance(change, dict) else None
    if not isinstance(image, dict):
        return None, 0
    path = (image.get("path") or {}).get("S") if isinstance(image.get("path"), dict) else None
    raw_hits = (image.get("hits") or {}).get("N") if isinstance(image.get("hits"), dict) else None
    try:
        return path, int(raw_hits) if raw_hits is not None else 0
    except ValueError:
        return path, 0
