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


def _sdk_span_ids(expected: Trace) -> set[str]:
    """The spans that travel through the pipeline: not the segments AWS writes itself (X-Ray gets
    those from the services, and Jaeger never does)."""
    return {s.span_id for s in expected.spans if not s.aws_created}


def _delivered(expected: Trace, found: Trace | None) -> int:
    if found is None:
        return 0
    return len(_sdk_span_ids(expected) & {s.span_id for s in found.spans})


def poll(
    trace_ids: list[str],
    *,
    jaeger: JaegerSource | None,
    xray_client: Any | None,
    done: Callable[[str, Trace | None, Trace | None], bool],
    wait_s: float,
    interval_s: float = 0.5,
) -> dict[str, tuple[Trace | None, Trace | None]]:
    """Read each trace from the backends asked for until `done(trace_id, in_xray, in_jaeger)` says so,
    or `wait_s` runs out; {trace id: (X-Ray's, Jaeger's)} as last read. Raises SourceError if a
    backend cannot be read. The one way tracectl waits for traces to arrive."""
    held: dict[str, tuple[Trace | None, Trace | None]] = dict.fromkeys(trace_ids, (None, None))
    pending = list(trace_ids)
    deadline = time.monotonic() + wait_s
    while True:
        from_xray = xray_source.fetch(xray_client, sorted(pending)) if xray_client is not None else {}
        for trace_id in list(pending):
            in_jaeger = jaeger.fetch(trace_id) if jaeger is not None else None
            held[trace_id] = (from_xray.get(trace_id), in_jaeger)
            if done(trace_id, *held[trace_id]):
                pending.remove(trace_id)
        if not pending or time.monotonic() > deadline:
            return held
        time.sleep(interval_s)


def check(
    expected: dict[str, Trace],
    *,
    jaeger: JaegerSource | None,
    xray_client: Any | None,
    wait_s: float = 60.0,
    on_complete: Callable[[TraceCheck], None] | None = None,
) -> list[TraceCheck]:
    """One TraceCheck per expected trace with a span of the SDK's, in the order given (a trace of AWS's
    segments alone, e.g. the one Lambda starts for an SQS batch, crossed no pipeline). Raises
    SourceError if a backend cannot be read."""
    expected = {tid: t for tid, t in expected.items() if _sdk_span_ids(t)}
    results = {tid: TraceCheck(tid, len(_sdk_span_ids(t))) for tid, t in expected.items()}

    def delivered(trace_id: str, in_xray: Trace | None, in_jaeger: Trace | None) -> bool:
        result, wanted = results[trace_id], expected[trace_id]
        if jaeger is not None:
            result.jaeger_spans = _delivered(wanted, in_jaeger)
        if xray_client is not None:
            result.xray_spans = _delivered(wanted, in_xray)
        if result.lost:
            return False
        _finish(result, in_xray, in_jaeger, on_complete)
        return True

    held = poll(list(expected), jaeger=jaeger, xray_client=xray_client, done=delivered, wait_s=wait_s)
    for result in results.values():  # incomplete when time ran out: compare what is there
        if result.lost:
            _finish(result, *held[result.trace_id], on_complete)
    return [results[t] for t in expected]


def _finish(
    result: TraceCheck,
    in_xray: Trace | None,
    in_jaeger: Trace | None,
    on_complete: Callable[[TraceCheck], None] | None,
) -> None:
    if in_xray is not None and in_jaeger is not None:
        result.comparison = compare(in_xray, in_jaeger, "X-Ray", "Jaeger")
    if on_complete:
        on_complete(result)
