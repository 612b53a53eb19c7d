"""What the functions' SDKs finished in a local run, as recorded by the span-record layer.

`layer_environment(dir, function)` is what a function's environment needs for its layer to record
into `dir`; `read(dir)` returns every recorded span as OTLP JSON lines (the trace-file format).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracectl.emulation.span_record_layer.span_recorder import RECORD_ENV
from tracectl.traces.otlp_receiver import to_otlp_json

LAYER = Path(__file__).resolve().parent / "span_record_layer"
SUFFIX = ".otlp.b64"


def record_file(directory: Path, name: str) -> Path:
    return directory / f"{name}{SUFFIX}"


def layer_environment(directory: Path, function: str, task: Path) -> dict[str, str]:
    """PYTHONPATH with the layer first (then the bundle, whose SDK it imports) and where to record."""
    return {"PYTHONPATH": f"{LAYER}:{task}", RECORD_ENV: str(record_file(directory.resolve(), function))}


def clear(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob(f"*{SUFFIX}"):
        old.unlink()


def read(directory: Path) -> str:
    """Every recorded span in `directory`, one OTLP JSON export request per line."""
    lines = []
    for part in sorted(directory.glob(f"*{SUFFIX}")):
        for line in part.read_text().splitlines():
            request = ExportTraceServiceRequest.FromString(base64.b64decode(line))
            lines.append(json.dumps(to_otlp_json(request), separators=(",", ":")) + "\n")
    return "".join(lines)
