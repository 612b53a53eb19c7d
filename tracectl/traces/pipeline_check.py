"""Did every span the SDK finished reach the backends, and do X-Ray and Jaeger hold the same trace?

`check()` takes what the SDK finished (the demo's span record) and polls Jaeger's query API and
X-Ray's BatchGetTraces until each trace is complete in each backend asked for, or time runs out.
A span counts as delivered when its span id is there: OTel ids survive into Jaeger unchanged and
into X-Ray as segment and subsegment ids. Where both backends hold a trace, they are compared
with `tracectl.traces.compare` (what `tracectl compare ID --xray --jaeger URL` prints).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tracectl.traces import xray_source
from tracectl.traces.compare import Comparison, compare
from tracectl.traces.jaeger_source import JaegerSource
from tracectl.traces.trace_model import Trace


@dataclass
class TraceCheck:
    trace_id: str
    sdk_spans: int
    jaeger_spans: int | None = None
    """How many of the SDK's span ids Jaeger holds (None: Jaeger not checked)."""
    xray_spans: int | None = None
    """How many of the SDK's span ids X-Ray holds as segments or subsegments (None: not checked)."""
    comparison: Comparison | None = None
    """X-Ray against Jaeger, when both were checked and hold the trace."""

    @property
    def lost(self) -> int:
        checked = [found for found in (self.jaeger_spans, self.xray_spans) if found is not None]
        return max((self.sdk_spans - found for found in checked), default=0)

    @property
    def ok(self) -> bool:
        compared = (
            self.jaeger_spans is None
            or self.xray_spans is None
            or (self.comparison is not None and not self.comparison.unexpected)
        )
        return self.lost == 0 and compared

    @property
    def verdict(self) -> str:
        parts = []
        if self.jaeger_spans is not None:
            parts.append(f"Jaeger {self.jaeger_spans}/{self.sdk_spans}")
        if self.xray_spans is not None:
            parts.append(f"X-Ray {self.xray_spans}/{self.sdk_spans}")
        if self.comparison is not None:
            parts.append(f"compare: {self.comparison.verdict}")
        return ", ".join(parts)


def _delivered(expected: Trace, found: Trace | None) -> int:
    if found is None:
        return 0
    return len({s.span_id for s in expected.spans} & {s.span_id for s in found.spans})


def check(
    expected: dict[str, Trace],
    *,
    jaeger: JaegerSource | None,
    xray_client: Any | None,
    wait_s: float = 60.0,
    on_complete: Callable[[TraceCheck], None] | None = None,
) -> list[TraceCheck]:
    """One TraceCheck per expected trace, in the order given. Raises SourceError if a backend cannot be read."""
    results = {tid: TraceCheck(tid, len(t.spans)) for tid, t in expected.items()}
    held: dict[str, dict[str, Trace]] = {"jaeger": {}, "xray": {}}
    pending = set(expected)
    deadline = time.monotonic() + wait_s
    while True:
        if xray_client is not None:
            held_xray = held["xray"]
            waiting = sorted(t for t in pending if _delivered(expected[t], held_xray.get(t)) < len(expected[t].spans))
            held["xray"].update(xray_source.fetch(xray_client, waiting))
        for trace_id in sorted(pending):
            result, wanted = results[trace_id], expected[trace_id]
            if jaeger is not None and (result.jaeger_spans or 0) < result.sdk_spans:
                found = jaeger.fetch(trace_id)
                if found is not None:
                    held["jaeger"][trace_id] = found
                result.jaeger_spans = _delivered(wanted, found)
            if xray_client is not None:
                result.xray_spans = _delivered(wanted, held["xray"].get(trace_id))
            if result.lost == 0:
                pending.discard(trace_id)
                _finish(result, held)
                if on_complete:
                    on_complete(result)
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for trace_id in sorted(pending):  # incomplete when time ran out: compare what is there
        _finish(results[trace_id], held)
        if on_complete:
            on_complete(results[trace_id])
    return [results[t] for t in expected]


def _finish(result: TraceCheck, held: dict[str, dict[str, Trace]]) -> None:
    xray, jaeger = held["xray"].get(result.trace_id), held["jaeger"].get(result.trace_id)
    if xray is not None and jaeger is not None:
        result.comparison = compare(xray, jaeger, "X-Ray", "Jaeger")
