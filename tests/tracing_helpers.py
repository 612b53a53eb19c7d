"""Small readers over finished spans, shared by the tracing tests."""

from __future__ import annotations

import time

from opentelemetry.sdk.trace import ReadableSpan


def in_trace(spans: list[ReadableSpan], trace_id: int) -> list[ReadableSpan]:
    return [s for s in spans if s.context.trace_id == trace_id]


def one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, f"expected one span {name!r}, got {[s.name for s in spans]}"
    return found[0]


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent else None


def assert_recent_xray_trace_id(trace_id: int) -> None:
    """X-Ray ids start with the epoch second they were made; X-Ray rejects stale or future ones."""
    epoch = trace_id >> 96
    assert time.time() - 60 <= epoch <= time.time() + 1, f"trace id {trace_id:032x} is not a fresh X-Ray id"
