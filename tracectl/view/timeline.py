"""Both sides of a trace as rows on one time axis: X-Ray's segments and Jaeger's span tree.

A row is one segment, subsegment or span, at its depth in its tree, placed on an axis shared by both
sides (so the same span sits at the same place left and right), with what a click shows and the
differences `tracectl compare` found for it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from tracectl.traces.compare import Difference
from tracectl.traces.trace_model import Span, Trace

AWS_ORIGINS = ("AWS::ApiGateway::Stage", "AWS::Lambda", "AWS::Lambda::Function")


@dataclass(frozen=True)
class Axis:
    start_ns: int
    end_ns: int

    @classmethod
    def spanning(cls, times: list[tuple[int, int]]) -> Axis:
        start = min(t[0] for t in times)
        return cls(start, max([*(t[1] for t in times), start + 1]))

    def place(self, start_ns: int, end_ns: int) -> tuple[float, float]:
        """(offset %, width %) of an interval; a zero-length one still gets a visible sliver."""
        total = self.end_ns - self.start_ns
        offset = 100.0 * (start_ns - self.start_ns) / total
        width = max(100.0 * (end_ns - start_ns) / total, 0.3)
        return round(offset, 3), round(min(width, 100.0 - offset), 3)

    def ticks(self, count: int = 5) -> list[tuple[float, str]]:
        total_ms = (self.end_ns - self.start_ns) / 1e6
        return [(100.0 * i / count, f"{total_ms * i / count:.0f} ms") for i in range(count + 1)]


@dataclass
class Row:
    span_id: str
    depth: int
    name: str
    group: str
    """X-Ray: the segment a subsegment belongs to; Jaeger: the service."""
    badge: str
    """X-Ray: the origin, namespace or `subsegment`; Jaeger: the span kind."""
    offset_pct: float
    width_pct: float
    start_ms: float
    duration_ms: float
    flags: tuple[str, ...] = ()
    """`error`, `fault`, `throttle`."""
    written_by_aws: bool = False
    details: list[tuple[str, str]] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    wait_ms: float | None = None
    """Local sources: how long this invocation waited after its event was sent."""

    @property
    def mark(self) -> str:
        if any(not d.expected for d in self.differences):
            return "unexpected"
        return "expected" if self.differences else ""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _tree_order(ids: list[str], parent_of: dict[str, str | None], start_of: dict[str, float]) -> list[tuple[str, int]]:
    """Depth-first, children by start time; roots are the ids whose parent is not there."""
    children: dict[str | None, list[str]] = defaultdict(list)
    present = set(ids)
    for i in ids:
        parent = parent_of[i]
        children[parent if parent in present else None].append(i)
    ordered: list[tuple[str, int]] = []
    stack = [(i, 0) for i in sorted(children[None], key=lambda i: start_of[i], reverse=True)]
    while stack:
        current, depth = stack.pop()
        ordered.append((current, depth))
        stack.extend((c, depth + 1) for c in sorted(children[current], key=lambda i: start_of[i], reverse=True))
    return ordered


def xray_rows(
    documents: list[dict[str, Any]],
    axis: Axis,
    differences: dict[str, list[Difference]],
    waits: dict[str, float],
) -> list[Row]:
    """Segments and their subsegments, nested as X-Ray nests them (a standalone subsegment under its parent)."""
    nodes: dict[str, tuple[dict[str, Any], str | None, str, bool]] = {}

    def add(doc: dict[str, Any], parent: str | None, segment: str, by_aws: bool) -> None:
        nodes[doc["id"]] = (doc, parent, segment, by_aws)
        for sub in doc.get("subsegments") or []:
            add(sub, doc["id"], segment, by_aws)

    for document in documents:
        by_aws = document.get("origin") in AWS_ORIGINS or "opentelemetry" not in str(
            (document.get("aws") or {}).get("xray", {}).get("sdk", "")
        )
        add(document, document.get("parent_id"), document["name"], by_aws)
    start_of = {i: float(n[0].get("start_time", 0)) for i, n in nodes.items()}
    nested = _nested_ids(documents)
    rows = []
    for node_id, depth in _tree_order(list(nodes), {i: n[1] for i, n in nodes.items()}, start_of):
        doc, _parent, segment, by_aws = nodes[node_id]
        start_ns = int(float(doc.get("start_time", 0)) * 1e9)
        end_ns = int(float(doc.get("end_time", doc.get("start_time", 0))) * 1e9)
        is_segment = doc.get("type") != "subsegment" and node_id not in nested
        badge = doc.get("origin") or doc.get("namespace") or ("segment" if is_segment else "subsegment")
        offset, width = axis.place(start_ns, end_ns)
        rows.append(
            Row(
                span_id=node_id,
                depth=depth,
                name=doc.get("name", ""),
                group=segment,
                badge=badge,
                offset_pct=offset,
                width_pct=width,
                start_ms=(start_ns - axis.start_ns) / 1e6,
                duration_ms=(end_ns - start_ns) / 1e6,
                flags=tuple(f for f in ("error", "fault", "throttle") if doc.get(f)),
                written_by_aws=by_aws,
                details=_xray_details(doc),
                differences=differences.get(node_id, []),
                wait_ms=waits.get(node_id),
            )
        )
    return rows


def _nested_ids(documents: list[dict[str, Any]]) -> set[str]:
    nested: set[str] = set()

    def walk(doc: dict[str, Any]) -> None:
        for sub in doc.get("subsegments") or []:
            nested.add(sub["id"])
            walk(sub)

    for document in documents:
        walk(document)
    return nested


def _xray_details(doc: dict[str, Any]) -> list[tuple[str, str]]:
    details = [(k, _text(doc[k])) for k in ("id", "parent_id", "type", "origin", "namespace") if doc.get(k)]
    details += [(f"annotation {k}", _text(v)) for k, v in (doc.get("annotations") or {}).items()]
    for namespace, values in (doc.get("metadata") or {}).items():
        details += [(f"metadata {namespace}.{k}", _text(v)) for k, v in (values or {}).items()]
    for part in ("request", "response"):
        details += [(f"http {part} {k}", _text(v)) for k, v in ((doc.get("http") or {}).get(part) or {}).items()]
    details += [(f"aws {k}", _text(v)) for k, v in (doc.get("aws") or {}).items() if k != "xray"]
    details += [(flag, "true") for flag in ("error", "fault", "throttle") if doc.get(flag)]
    for exception in ((doc.get("cause") or {}).get("exceptions") or []) if isinstance(doc.get("cause"), dict) else []:
        details.append(("cause", f"{exception.get('type', '')}: {exception.get('message', '')}"))
    return details


def jaeger_rows(
    trace: Trace, axis: Axis, differences: dict[str, list[Difference]], waits: dict[str, float]
) -> list[Row]:
    """The span tree with services, as Jaeger's trace view nests it."""
    by_id = {s.span_id: s for s in trace.spans}
    ordered = _tree_order(
        list(by_id), {i: s.parent_id for i, s in by_id.items()}, {i: float(s.start_ns) for i, s in by_id.items()}
    )
    rows = []
    for span_id, depth in ordered:
        span = by_id[span_id]
        offset, width = axis.place(span.start_ns, span.end_ns)
        rows.append(
            Row(
                span_id=span_id,
                depth=depth,
                name=span.name,
                group=span.service,
                badge=span.kind,
                offset_pct=offset,
                width_pct=width,
                start_ms=(span.start_ns - axis.start_ns) / 1e6,
                duration_ms=span.duration_ms,
                flags=("error",) if span.error else (),
                details=_jaeger_details(span, axis),
                differences=differences.get(span_id, []),
                wait_ms=waits.get(span_id),
            )
        )
    return rows


def _jaeger_details(span: Span, axis: Axis) -> list[tuple[str, str]]:
    details = [("span id", span.span_id), ("parent id", span.parent_id or "(none)"), ("service", span.service)]
    details.append(("kind", span.kind))
    if span.error:
        details.append(("status", f"ERROR {span.status_message}".strip()))
    details += [(f"tag {k}", _text(v)) for k, v in sorted(span.attributes.items())]
    for event in span.events:
        at = (event.time_ns - axis.start_ns) / 1e6
        attributes = ", ".join(f"{k}={_text(v)}" for k, v in event.attributes.items())
        details.append((f"event at {at:.1f} ms", f"{event.name} {attributes}".strip()))
    details += [("link", f"trace {trace_id} span {span_id}") for trace_id, span_id in span.links]
    return details
