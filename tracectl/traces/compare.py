"""One trace from two sources, side by side: what matches, what differs, and whether it should.

Spans are matched by span id: OTel's ids survive into Jaeger unchanged and into X-Ray as segment
and subsegment ids. Every difference is classified: expected (explained in one line, e.g. Lambda's
own segments exist only in X-Ray) or unexpected (a span missing, a different parent, an error on
one side only, an annotation that does not match its attribute).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from tracectl.traces.trace_model import Span, Trace
from tracectl.traces.xray_conversion import annotation_key

# Attributes a backend adds or drops on its own; never a difference worth reporting. Jaeger v2's
# query API adds `@jaeger@warnings` (e.g. "clock skew adjustment disabled…" on every async consumer
# that starts after its producer span ended: seen on SNS/SQS hops through the real Jaeger).
_BACKEND_KEYS = ("otel.", "internal.", "span.kind", "telemetry.", "w3c.", "@jaeger@")


@dataclass(frozen=True)
class Difference:
    expected: bool
    span: str
    what: str
    span_id: str = ""


@dataclass
class Comparison:
    trace_id: str
    left: str
    right: str
    matched: int
    services: dict[str, tuple[int, int]]
    differences: list[Difference] = field(default_factory=list)

    @property
    def unexpected(self) -> list[Difference]:
        return [d for d in self.differences if not d.expected]

    @property
    def verdict(self) -> str:
        if self.unexpected:
            return "unexpected differences"
        return "expected differences only" if self.differences else "identical"

    def to_json(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "sources": [self.left, self.right],
            "matched_spans": self.matched,
            "spans_per_service": {k: list(v) for k, v in self.services.items()},
            "verdict": self.verdict,
            "differences": [asdict(d) for d in self.differences],
        }


def compare(left: Trace, right: Trace, left_name: str, right_name: str) -> Comparison:
    a, b = {s.span_id: s for s in left.spans}, {s.span_id: s for s in right.spans}
    counts_a, counts_b = Counter(s.service for s in left.spans), Counter(s.service for s in right.spans)
    result = Comparison(
        trace_id=left.trace_id,
        left=left_name,
        right=right_name,
        matched=len(a.keys() & b.keys()),
        services={svc: (counts_a[svc], counts_b[svc]) for svc in sorted(counts_a.keys() | counts_b.keys())},
    )
    for only, name, spans in ((a.keys() - b.keys(), left_name, a), (b.keys() - a.keys(), right_name, b)):
        for span_id in sorted(only, key=lambda i: spans[i].start_ns):
            span = spans[span_id]
            if span.aws_created:
                why = "made by an AWS service (Lambda, API Gateway or an inferred resource), never an OTel span"
                result.differences.append(Difference(True, _label(span), f"only in {name}: {why}", span_id))
            else:
                result.differences.append(
                    Difference(False, _label(span), f"only in {name}: missing from the other", span_id)
                )
    for span_id in sorted(a.keys() & b.keys(), key=lambda i: a[i].start_ns):
        found = _differences(a[span_id], b[span_id], left, right, left_name, right_name)
        result.differences.extend(replace(d, span_id=span_id) for d in found)
    return result


def _differences(x: Span, y: Span, left: Trace, right: Trace, left_name: str, right_name: str) -> list[Difference]:
    found: list[Difference] = []
    label = _label(x)
    if x.parent_id != y.parent_id:
        # X-Ray keeps each span's parent id (Lambda's own segment included), so any change is real.
        found.append(
            Difference(False, label, f"different parent: {x.parent_id} in {left_name}, {y.parent_id} in {right_name}")
        )
    if x.error != y.error:
        side = left_name if x.error else right_name
        message = (x if x.error else y).status_message
        found.append(Difference(False, label, f"error only in {side}" + (f": {message}" if message else "")))
    if left.source != right.source:  # X-Ray against an OTel source
        xray_span, otel_span = (x, y) if left.source == "xray" else (y, x)
        found.extend(_annotation_differences(xray_span, otel_span, label))
        if x.name != y.name:
            found.append(
                Difference(
                    True,
                    label,
                    f"named {x.name!r} / {y.name!r}: X-Ray names segments after "
                    "their service and AWS subsegments after the AWS service",
                )
            )
    else:
        if x.name != y.name:
            found.append(Difference(False, label, f"named {x.name!r} in {left_name}, {y.name!r} in {right_name}"))
        keys = {k for k in x.attributes.keys() | y.attributes.keys() if not k.startswith(_BACKEND_KEYS)}
        changed = sorted(k for k in keys if not _same(x.attributes.get(k), y.attributes.get(k)))
        if changed:
            found.append(Difference(False, label, "attributes differ: " + ", ".join(changed)))
    return found


def _annotation_differences(xray: Span, otel: Span, label: str) -> list[Difference]:
    found = []
    by_annotation_key = {annotation_key(k): v for k, v in otel.attributes.items()}
    for key, value in xray.attributes.items():
        if key.startswith("annotation."):
            name = key.removeprefix("annotation.")
            if name not in by_annotation_key:
                found.append(Difference(False, label, f"annotation {name} has no attribute in the OTel source"))
            elif not _same(by_annotation_key[name], value):
                found.append(
                    Difference(False, label, f"annotation {name}={value!r} but attribute ={by_annotation_key[name]!r}")
                )
    return found


def _same(x: Any, y: Any) -> bool:
    """Equal as the backends store them: numbers and booleans may come back as strings."""
    if x is None or y is None:
        return x is y
    if (
        isinstance(x, str) != isinstance(y, str)
        and isinstance(x, list | tuple | str)
        and isinstance(y, list | tuple | str)
    ):
        # Jaeger's legacy API renders array attributes as JSON strings
        text, values = (x, y) if isinstance(x, str) else (y, x)
        try:
            return [str(v) for v in json.loads(str(text))] == [str(v) for v in values]
        except (ValueError, TypeError):
            return False
    if isinstance(x, list | tuple) and isinstance(y, list | tuple):
        return [str(v) for v in x] == [str(v) for v in y]
    if isinstance(x, bool) or isinstance(y, bool):
        return str(x).lower() == str(y).lower()
    return str(x) == str(y)


def _label(span: Span) -> str:
    return f"{span.service}/{span.name} [{span.span_id}]"
