"""Invoke handlers in a fresh process, as one Lambda execution environment would.

Usage: python tests/invoke_in_fresh_process.py SPEC.json OUT.json
SPEC: {"exporter": "memory" | "otlp", "calls": [{"handler": "dynamo", "event": {...}}, ...]}
OUT:  {"calls": [{"result": ..., "error": null | "Type: msg", "seconds": 0.01}], "spans": [...]}
Spans are reported only with the in-memory exporter.

SnapStart, simulated (SPEC keys, all optional): `init_calls` are invoked during init (priming),
before `calls`, and their spans are not reported; `snapshot_to: PATH` saves the `random` state as
init left it (what a snapshot holds); `restore_from: PATH` brings that state back, as a restore
does in every environment, then runs the runtime's after-restore hooks unless `skip_hooks`.
"""

from __future__ import annotations

import importlib
import json
import pickle
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(spec_path: str, out_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    import functions.tracing as tracing

    memory = None
    if spec["exporter"] == "memory":
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        memory = InMemorySpanExporter()
        tracing.setup(exporter=memory)
    invoke(spec.get("init_calls", []))
    if memory is not None:
        memory.clear()
    if "snapshot_to" in spec:
        Path(spec["snapshot_to"]).write_bytes(pickle.dumps(random.getstate()))
    if "restore_from" in spec:
        random.setstate(pickle.loads(Path(spec["restore_from"]).read_bytes()))
        if not spec.get("skip_hooks"):
            import snapshot_restore_py  # the runtime's module; tests put a stand-in on the path

            snapshot_restore_py.restore()
    calls = invoke(spec["calls"])
    spans = [
        {
            "name": s.name,
            "attributes": dict(s.attributes),
            "trace_id": f"{s.context.trace_id:032x}",
            "span_id": f"{s.context.span_id:016x}",
            "parent_id": f"{s.parent.span_id:016x}" if s.parent else None,
        }
        for s in (memory.get_finished_spans() if memory else [])
    ]
    Path(out_path).write_text(json.dumps({"calls": calls, "spans": spans}, default=list))


def invoke(calls: list[dict]) -> list[dict]:
    from tests.events import LocalContext

    results = []
    for call in calls:
        handler = importlib.import_module(f"functions.{call['handler']}.handler").handler
        started = time.perf_counter()
        try:
            result, error = handler(call["event"], LocalContext(call["handler"])), None
        except Exception as exc:  # noqa: BLE001 - any handler error is reported to the test
            result, error = None, f"{type(exc).__name__}: {exc}"
        results.append({"result": result, "error": error, "seconds": time.perf_counter() - started})
    return results


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
