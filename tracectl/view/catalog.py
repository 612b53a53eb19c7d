"""Where the view's traces come from: a trace file, or the backends themselves.

A catalog lists traces and gives, for one id, both sides: the segment documents X-Ray holds (or
would hold) and the spans Jaeger holds (or would hold).
- `TraceFileCatalog`: a demo's trace file. Jaeger's side is the file's OTel spans; X-Ray's is the
  same spans through the awsxray exporter's conversion (tracectl/traces/xray_conversion.py) plus
  the segments the local run wrote for API Gateway and Lambda.
- `BackendCatalog`: X-Ray (GetTraceSummaries, BatchGetTraces; AWS or the local pipeline's
  emulator) and/or Jaeger's query API, each read as it is; a trace may be in one, the other or both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from tracectl.traces import xray_source
from tracectl.traces.compare import Comparison, compare
from tracectl.traces.jaeger_source import JaegerSource
from tracectl.traces.trace_model import Trace, load_jsonl
from tracectl.traces.xray_conversion import segment_documents

FUNCTION_TRIGGER = "faas.trigger"


@dataclass(frozen=True)
class Listed:
    """One line of the trace list."""

    trace_id: str
    start_ns: int
    root: str
    duration_ms: float
    spans: int
    errors: int
    functions: tuple[str, ...]
    found_in: str
    """`X-Ray`, `Jaeger`, `both`, or `file`."""
    longest_wait_ms: float = 0.0
    """The longest a function's invocation waited after its event was sent (local sources only)."""


@dataclass
class Sides:
    """One trace as each backend holds it (None: that backend does not hold it)."""

    trace_id: str
    xray_documents: list[dict[str, Any]] | None
    jaeger: Trace | None
    xray_says: str
    jaeger_says: str
    xray_read: bool = True
    jaeger_read: bool = True
    """False where that backend is not a source at all (so its absence says nothing)."""
    xray: Trace | None = field(init=False)
    """The X-Ray side read as spans (what `tracectl compare` compares)."""

    def __post_init__(self) -> None:
        self.xray = xray_source.from_segments(self.xray_documents) if self.xray_documents else None

    @property
    def comparison(self) -> Comparison | None:
        if self.xray is None or self.jaeger is None:
            return None
        return compare(self.xray, self.jaeger, "X-Ray", "Jaeger")


class Catalog(Protocol):
    description: str
    local: bool
    """Runs on this machine: delivery waits are the local run's, not AWS's."""
    without_xray_graph: str
    """Why the service map is drawn from the spans when `xray_graph` has nothing."""

    def listing(self) -> list[Listed]: ...

    def sides(self, trace_id: str) -> Sides | None: ...

    def traces(self) -> dict[str, Trace]:
        """Every trace, as spans (for the service map)."""
        ...

    def xray_graph(self, trace_id: str | None = None) -> list[dict[str, Any]]:
        """X-Ray's own service graph (of every trace, or of one): its `Services`; [] where there is none."""
        ...


def functions_of(trace: Trace) -> tuple[str, ...]:
    """The Lambda functions a trace passed through (spans of an invocation carry `faas.trigger`)."""
    return tuple(sorted({s.service for s in trace.spans if FUNCTION_TRIGGER in s.attributes}))


def delivery_waits(trace: Trace) -> dict[str, float]:
    """{span id: ms} for each span that began after its parent, a send in another service (a publish,
    an upload, a call), had ended: an event's delivery, from the send ending to the invocation starting."""
    by_id = {s.span_id: s for s in trace.spans}
    waits = {}
    for span in trace.spans:
        parent = by_id.get(span.parent_id or "")
        if parent is None or parent.kind not in ("producer", "client"):
            continue
        if parent.service != span.service and span.start_ns > parent.end_ns:
            waits[span.span_id] = (span.start_ns - parent.end_ns) / 1e6
    return waits


def listed(trace: Trace, found_in: str, *, local: bool) -> Listed:
    roots = trace.roots()
    waits = delivery_waits(trace) if local else {}
    return Listed(
        trace_id=trace.trace_id,
        start_ns=trace.start_ns,
        root=roots[0].name if roots else "",
        duration_ms=trace.duration_ms,
        spans=len(trace.spans),
        errors=sum(s.error for s in trace.spans),
        functions=functions_of(trace),
        found_in=found_in,
        longest_wait_ms=max(waits.values(), default=0.0),
    )


class TraceFileCatalog:
    """A trace file, read again whenever it changes."""

    local = True
    without_xray_graph = "a trace file was never sent to X-Ray"

    def __init__(self, path: Path, indexed_attributes: Iterable[str]) -> None:
        self.path = path
        self.description = f"trace file {path}"
        self._indexed = list(indexed_attributes)
        self._loaded: tuple[float, dict[str, Trace]] | None = None
        self._lock = threading.Lock()

    def traces(self) -> dict[str, Trace]:
        with self._lock:
            changed = self.path.stat().st_mtime
            if self._loaded is None or self._loaded[0] != changed:
                self._loaded = (changed, load_jsonl(self.path))
            return self._loaded[1]

    def listing(self) -> list[Listed]:
        return [listed(t, "file", local=True) for t in self.traces().values()]

    def xray_graph(self, trace_id: str | None = None) -> list[dict[str, Any]]:
        return []  # X-Ray computes it from what it received; a file was never sent there

    def sides(self, trace_id: str) -> Sides | None:
        trace = self.traces().get(trace_id)
        if trace is None:
            return None
        otel = [s for s in trace.spans if not s.aws_created]
        written_by_aws = len(trace.spans) - len(otel)
        return Sides(
            trace_id,
            segment_documents(trace, self._indexed),
            Trace(trace_id, otel) if otel else None,
            xray_says=(
                "as X-Ray would hold it: the file's spans through the awsxray exporter's conversion"
                + (
                    f", and {written_by_aws} segments the local run wrote for API Gateway and Lambda"
                    if written_by_aws
                    else ""
                )
            ),
            jaeger_says="as Jaeger would hold it: the file's OTel spans",
        )


class BackendCatalog:
    """X-Ray and/or Jaeger, read for traces that started in the last `minutes`; answers are kept `fresh_s`."""

    def __init__(
        self,
        *,
        xray_client: Any | None,
        jaeger: JaegerSource | None,
        description: str,
        local: bool,
        minutes: int = 60,
        fresh_s: float = 5.0,
    ) -> None:
        self.description = description
        self.local = local
        self._xray, self._jaeger = xray_client, jaeger
        if xray_client is None:
            self.without_xray_graph = "X-Ray not read"
        elif local:
            self.without_xray_graph = "X-Ray on the emulator keeps no service graph"
        else:
            self.without_xray_graph = "X-Ray answered no service graph"
        self._minutes, self._fresh_s = minutes, fresh_s
        self._lock = threading.Lock()
        self._read_at = -float("inf")
        self._xray_documents: dict[str, list[dict[str, Any]]] = {}
        self._jaeger_traces: dict[str, Trace] = {}

    def _refresh(self) -> None:
        with self._lock:
            if time.monotonic() - self._read_at < self._fresh_s:
                return
            end = datetime.now(UTC)
            start = end - timedelta(minutes=self._minutes)
            if self._xray is not None:
                ids = [s.trace_id for s in xray_source.summaries(self._xray, start, end)]
                self._xray_documents = xray_source.fetch_documents(self._xray, ids)
            if self._jaeger is not None:
                found: dict[str, Trace] = {}
                for service in self._jaeger.services():
                    found.update(self._jaeger.search(service, start, end))
                self._jaeger_traces = found
            self._read_at = time.monotonic()

    def traces(self) -> dict[str, Trace]:
        self._refresh()
        found = {tid: xray_source.from_segments(docs) for tid, docs in self._xray_documents.items()}
        for trace_id, trace in self._jaeger_traces.items():
            found.setdefault(trace_id, trace)
        return found

    def xray_graph(self, trace_id: str | None = None) -> list[dict[str, Any]]:
        if self._xray is None:
            return []
        end = datetime.now(UTC)
        return xray_source.service_graph(self._xray, end - timedelta(minutes=self._minutes), end, trace_id)

    def listing(self) -> list[Listed]:
        self._refresh()
        rows = []
        for trace_id, trace in self.traces().items():
            where = [
                name
                for name, held in (("X-Ray", self._xray_documents), ("Jaeger", self._jaeger_traces))
                if trace_id in held
            ]
            rows.append(listed(trace, "both" if len(where) == 2 else where[0], local=self.local))
        return rows

    def sides(self, trace_id: str) -> Sides | None:
        self._refresh()
        documents = self._xray_documents.get(trace_id)
        if documents is None and self._xray is not None:
            documents = xray_source.fetch_documents(self._xray, [trace_id]).get(trace_id)
        jaeger = self._jaeger_traces.get(trace_id)
        if jaeger is None and self._jaeger is not None:
            jaeger = self._jaeger.fetch(trace_id)
        if documents is None and jaeger is None:
            return None
        return Sides(
            trace_id,
            documents,
            jaeger,
            xray_says="what X-Ray holds (BatchGetTraces)" if self._xray is not None else "X-Ray not read",
            jaeger_says=f"what Jaeger at {self._jaeger.base_url} holds"
            if self._jaeger is not None
            else "Jaeger not read",
        )
