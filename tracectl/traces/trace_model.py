"""The normalised trace every source is read into: OTLP JSON lines, Jaeger, X-Ray.

A `Span` is backend-neutral: 32-hex ids, a kind in OTel's words, the service that emitted it,
nanosecond times, an error flag and plain attribute values. `Trace` groups one trace's spans
and answers the structural questions (roots, children, reachability).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


class SourceError(RuntimeError):
    """A trace source could not be read (unreachable, denied, malformed answer). One line for the user."""


WRITTEN_BY_KEY = "tracectl.written_by"
WRITTEN_BY_AWS = "aws"
"""A trace file's resource attribute and value for segments an AWS service wrote (the local run writes
them where it plays that service: tracectl/emulation/aws_segments.py)."""
SEGMENT_ATTRIBUTE = "aws.xray.segment"
"""In a trace file, the span attribute that keeps such a segment's whole X-Ray document."""

KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
STATUS_ERROR = 2


@dataclass(frozen=True)
class Event:
    """A span event (an exception, a log line): when, what, its attributes."""

    time_ns: int
    name: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: str
    service: str
    start_ns: int
    end_ns: int
    error: bool = False
    status_message: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    links: tuple[tuple[str, str], ...] = ()
    """(trace id, span id) of each linked span."""
    aws_created: bool = False
    """Made by an AWS service (Lambda's own segments, API Gateway, inferred resources), not from an
    OTel span: exists only in X-Ray."""
    events: tuple[Event, ...] = ()

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


@dataclass
class Trace:
    trace_id: str
    spans: list[Span]
    source: str = "otlp"
    """Where it was read from: `otlp` (file or Jaeger) or `xray`; decides how names and attributes compare."""

    def roots(self) -> list[Span]:
        """Spans whose parent is absent from the trace (one, in a connected trace)."""
        ids = {s.span_id for s in self.spans}
        return sorted(
            (s for s in self.spans if s.parent_id is None or s.parent_id not in ids), key=lambda s: s.start_ns
        )

    def children(self, span_id: str) -> list[Span]:
        return sorted((s for s in self.spans if s.parent_id == span_id), key=lambda s: s.start_ns)

    def reachable_from(self, root: Span) -> set[str]:
        seen, stack = set(), [root.span_id]
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(c.span_id for c in self.children(current))
        return seen

    @property
    def services(self) -> list[str]:
        return sorted({s.service for s in self.spans})

    @property
    def has_error(self) -> bool:
        return any(s.error for s in self.spans)

    @property
    def start_ns(self) -> int:
        return min(s.start_ns for s in self.spans)

    @property
    def duration_ms(self) -> float:
        return (max(s.end_ns for s in self.spans) - self.start_ns) / 1e6

    def to_json(self) -> dict[str, Any]:
        spans = [asdict(s) for s in sorted(self.spans, key=lambda s: s.start_ns)]
        return {"trace_id": self.trace_id, "source": self.source, "spans": spans}

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Trace:
        spans = [
            Span(
                **{
                    **s,
                    "links": tuple(tuple(link) for link in s.get("links", ())),
                    "events": tuple(Event(**e) for e in s.get("events", ())),
                }
            )
            for s in document["spans"]
        ]
        return cls(trace_id=document["trace_id"], spans=spans, source=document.get("source", "otlp"))


def attribute_value(value: dict[str, Any]) -> Any:
    """A plain Python value for an OTLP JSON `AnyValue`."""
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return value["boolValue"]
    if "intValue" in value:
        return int(value["intValue"])  # int64 travels as a string in OTLP JSON
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "arrayValue" in value:
        return [attribute_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return attributes_of(value["kvlistValue"].get("values", []))
    return None


def attributes_of(key_values: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {kv["key"]: attribute_value(kv.get("value", {})) for kv in key_values}


def spans_from_otlp_json(document: dict[str, Any]) -> list[Span]:
    """Spans of one OTLP JSON `ExportTraceServiceRequest` (or a file-exporter line)."""
    spans = []
    for resource_spans in document.get("resourceSpans", []):
        resource = attributes_of(resource_spans.get("resource", {}).get("attributes", []))
        service = str(resource.get("service.name", "unknown"))
        written_by_aws = resource.get(WRITTEN_BY_KEY) == WRITTEN_BY_AWS
        for scope_spans in resource_spans.get("scopeSpans", []):
            for s in scope_spans.get("spans", []):
                status = s.get("status", {})
                spans.append(
                    Span(
                        trace_id=s["traceId"],
                        span_id=s["spanId"],
                        parent_id=s.get("parentSpanId") or None,
                        name=s.get("name", ""),
                        kind=KINDS.get(int(s.get("kind", 0)), "unspecified"),
                        service=service,
                        start_ns=int(s.get("startTimeUnixNano", 0)),
                        end_ns=int(s.get("endTimeUnixNano", 0)),
                        error=int(status.get("code", 0)) == STATUS_ERROR,
                        status_message=status.get("message", ""),
                        attributes=attributes_of(s.get("attributes", [])),
                        links=tuple((link["traceId"], link["spanId"]) for link in s.get("links", [])),
                        aws_created=written_by_aws,
                        events=tuple(_event(e) for e in s.get("events", [])),
                    )
                )
    return spans


def _event(event: dict[str, Any]) -> Event:
    return Event(int(event.get("timeUnixNano", 0)), event.get("name", ""), attributes_of(event.get("attributes", [])))


def group(spans: Iterable[Span]) -> dict[str, Trace]:
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        by_trace[span.trace_id].append(span)
    traces = {tid: Trace(tid, s) for tid, s in by_trace.items()}
    return dict(sorted(traces.items(), key=lambda kv: kv[1].start_ns))


def load_jsonl(path: Path) -> dict[str, Trace]:
    """Every trace in an OTLP JSON lines file (the demo's `--out`, or a Collector file exporter's)."""
    spans: list[Span] = []
    with path.open() as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    spans.extend(spans_from_otlp_json(json.loads(line)))
                except (ValueError, KeyError, TypeError, AttributeError) as error:  # any shape but OTLP's
                    raise ValueError(f"{path}:{number}: not an OTLP JSON trace export ({error})") from None
    return group(spans)
