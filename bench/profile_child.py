"""`python -m bench --profile`'s warm twin: the handler traced with the exporter cut short at one step.

    python bench_profile_child.py STEP INVOCATIONS EVENT_JSON_FILE

STEP: plain (untraced) | spans (spans made, exported nowhere) | encode (OTLP protobuf, not sent) |
full (sent to the collector, as deployed). Runs in the `ours` twin's environment (bench/envs.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan


import json
import sys

from bench_child import Context  # bench/child.py, copied beside this file into the twin's task dir

from bench.twins import handle


def handler_for(step: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    if step == "plain":
        return handle
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    import functions.tracing as tracing

    class Nowhere(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    class EncodeOnly(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

            encode_spans(spans).SerializeToString()
            return SpanExportResult.SUCCESS

    if step != "full":
        tracing.setup({"spans": Nowhere, "encode": EncodeOnly}[step]())
    return tracing.traced(handle)


if __name__ == "__main__":
    step, invocations, event_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    handler = handler_for(step)
    with open(event_file) as f:
        event = json.load(f)
    for _ in range(1 + invocations):
        handler(event, Context())
