"""Invoke handlers in a fresh process, as one Lambda execution environment would.

Usage: python tests/invoke_in_fresh_process.py SPEC.json OUT.json
SPEC: {"exporter": "memory" | "otlp", "calls": [{"handler": "dynamo", "event": {...}}, ...]}
OUT:  {"calls": [{"result": ..., "error": null | "Type: msg", "seconds": 0.01}], "spans": [...]}
Spans are reported only with the in-memory exporter.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(spec_path: str, out_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    from functions.tracing import bootstrap

    memory = None
    if spec["exporter"] == "memory":
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        memory = InMemorySpanExporter()
        bootstrap.setup(exporter=memory)
    from tracectl.lambda_context import LocalContext

    calls = []
    for call in spec["calls"]:
        handler = importlib.import_module(f"functions.{call['handler']}.handler").handler
        started = time.perf_counter()
        try:
            result, error = handler(call["event"], LocalContext(call["handler"])), None
        except Exception as exc:  # noqa: BLE001 - any handler error is reported to the test
            result, error = None, f"{type(exc).__name__}: {exc}"
        calls.append({"result": result, "error": error, "seconds": time.perf_counter() - started})
    spans = [
        {
            "name": s.name,
            "attributes": dict(s.attributes),
            "trace_id": f"{s.context.trace_id:032x}",
            "parent_id": f"{s.parent.span_id:016x}" if s.parent else None,
        }
        for s in (memory.get_finished_spans() if memory else [])
    ]
    Path(out_path).write_text(json.dumps({"calls": calls, "spans": spans}, default=list))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
