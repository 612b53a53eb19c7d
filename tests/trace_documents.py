"""The trace documents the compare, source and traffic tests share (tests/fixtures/)."""

from __future__ import annotations

import json
from pathlib import Path

from tracectl.traces.trace_model import Trace, load_jsonl

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CAPTURED = FIXTURES / "captured"
TRACE = "6b0329265bf6e192d56ebd46172c790f"
"""The trace the hand-written fixtures hold."""


def otlp() -> dict:
    """One trace as OTLP JSON (a fresh copy each call)."""
    return json.loads((FIXTURES / "otlp_trace.json").read_text())


def segments() -> list[dict]:
    """The same trace as X-Ray segment documents, with Lambda's, API Gateway's and inferred ones."""
    return json.loads((FIXTURES / "xray_segments.json").read_text())


def captured(name: str):
    """What the real backends returned for one faulted request (refresh: TRACECTL_RECAPTURE=1 on the e2e tests)."""
    return json.loads((CAPTURED / name).read_text())


def captured_sdk() -> Trace:
    [trace] = load_jsonl(CAPTURED / "sdk_spans.jsonl").values()
    return trace


def shape(trace) -> set:
    return {(s.span_id, s.parent_id, s.name, s.kind, s.service, s.error, s.start_ns // 1000) for s in trace.spans}


def flattened(documents: list[dict]) -> dict[str, dict]:
    """Every segment and subsegment of X-Ray segment documents, by id."""
    found: dict[str, dict] = {}

    def walk(doc: dict) -> None:
        found[doc["id"]] = doc
        for sub in doc.get("subsegments", []):
            walk(sub)

    for doc in documents:
        walk(doc)
    return found
