"""The app's own message format: `{"path": "/some/path"}` on every topic and queue.

Readers are defensive: an event that is not what we expect yields no paths rather than raising,
so a malformed message never crashes a handler.
"""

from __future__ import annotations

import json
from typing import Any

from functions.tracing import records

MAX_PATH_LENGTH = 1024


def encode(path: str) -> str:
    return json.dumps({"path": path})


def decode(body: Any) -> str | None:
    """The path in a message body, or None if the body is not one of ours."""
    try:
        message = json.loads(body) if isinstance(body, str) else None
    except ValueError:
        return None
    path = message.get("path") if isinstance(message, dict) else None
    return path[:MAX_PATH_LENGTH] if isinstance(path, str) else None


def sns_paths(event: Any) -> list[str]:
    """Paths from every SNS record in an SNS → Lambda event."""
    paths = []
    for record in records(event):
        sns = record.get("Sns")
        path = decode(sns.get("Message")) if isinstance(sns, dict) else None
        if path is not None:
            paths.append(path)
    return paths


def event_path(event: Any) -> str | None:
    """The path in an EventBridge event's detail (what `ingest` put on the bus), or None."""
    detail = event.get("detail") if isinstance(event, dict) else None
    path = detail.get("path") if isinstance(detail, dict) else None
    return path[:MAX_PATH_LENGTH] if isinstance(path, str) else None
