"""A trace as a waterfall in the terminal: the span tree, who emitted each span, and a time bar."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from tracectl.traces.trace_model import Span, Trace

BAR_WIDTH = 40


def waterfall(trace: Trace, *, title: str | None = None) -> Table:
    """The OTel spans of `trace` as a tree; the segments AWS services wrote (X-Ray only) are counted
    in the title, not drawn: in a terminal they would double every invocation's line."""
    by_aws = sum(s.aws_created for s in trace.spans)
    title = title or f"trace {trace.trace_id}"
    if 0 < by_aws < len(trace.spans):  # a trace of AWS's segments alone is drawn as it is
        title += f" (+{by_aws} segments AWS wrote: tracectl view)"
        trace = Trace(trace.trace_id, [s for s in trace.spans if not s.aws_created], trace.source)
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("span")
    table.add_column("service")
    table.add_column("ms", justify="right")
    table.add_column("timeline", no_wrap=True)
    start, total = trace.start_ns, max(trace.duration_ms, 0.001)
    for depth, span in _walk(trace):
        name = Text("  " * depth + span.name, style="bold red" if span.error else "")
        if span.error:
            name.append("  ✗ " + (span.status_message or "error")[:48], style="red")
        table.add_row(name, span.service, f"{span.duration_ms:.1f}", _bar(span, start, total))
    return table


def _walk(trace: Trace) -> list[tuple[int, Span]]:
    rows: list[tuple[int, Span]] = []

    def visit(span: Span, depth: int) -> None:
        rows.append((depth, span))
        for child in trace.children(span.span_id):
            visit(child, depth + 1)

    for root in trace.roots():
        visit(root, 0)
    return rows


def _bar(span: Span, start_ns: int, total_ms: float) -> Text:
    offset = int((span.start_ns - start_ns) / 1e6 / total_ms * BAR_WIDTH)
    length = max(1, round(span.duration_ms / total_ms * BAR_WIDTH))
    offset = min(offset, BAR_WIDTH - 1)
    return Text(" " * offset + "█" * min(length, BAR_WIDTH - offset), style="red" if span.error else "cyan")
