"""One local Lambda execution environment: `python -m tracectl.worker FUNCTION`.

Imports the function's handler once (so cold start happens once per worker), then serves
invocations: one JSON line in on stdin `{"event": ..., "request_id": ...}`, one JSON line out
`{"result": ...}` or `{"error": {"errorType", "errorMessage"}}`. Whatever the handler prints
goes to stderr, which the runner keeps as the function's log, as CloudWatch Logs would.

With `TRACECTL_SPAN_RECORD=DIR` every span the SDK finishes is also appended to DIR/FUNCTION.jsonl as OTLP JSON
(one export request per span, the demo's trace-file format), beside the function's own export
path, which stays untouched: the record is what the SDK finished, to count against what the
backends received (`tracectl demo --stack`).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback

SPAN_RECORD_ENV = "TRACECTL_SPAN_RECORD"


def record_spans(provider, path: str) -> None:  # type: ignore[no-untyped-def]
    """Add a processor to `provider` that appends each finished span to `path` as OTLP JSON."""
    import threading

    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace import SpanProcessor

    from tracectl.otlp_receiver import to_otlp_json

    lock = threading.Lock()

    class Recorder(SpanProcessor):
        def on_end(self, span) -> None:  # type: ignore[no-untyped-def]
            line = json.dumps(to_otlp_json(encode_spans([span])), separators=(",", ":"))
            with lock, open(path, "a") as out:
                out.write(line + "\n")

    provider.add_span_processor(Recorder())


def main(function_name: str) -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the handler's stdout (its JSON logs) joins stderr
    sys.stdout = os.fdopen(1, "w", buffering=1)
    from tracectl.lambda_context import LocalContext

    module_name, _, attribute = os.environ["_HANDLER"].rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    if os.environ.get(SPAN_RECORD_ENV):
        from opentelemetry import trace

        # after the handler's own setup: the global provider is the bootstrap's
        record_spans(trace.get_tracer_provider(), os.path.join(os.environ[SPAN_RECORD_ENV], f"{function_name}.jsonl"))
    protocol.write(json.dumps({"ready": function_name}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        context = LocalContext(function_name, aws_request_id=request["request_id"])
        try:
            reply = {"result": handler(request["event"], context)}
        except Exception as error:  # noqa: BLE001 - reported as Lambda reports a function error
            traceback.print_exc()
            reply = {"error": {"errorType": type(error).__name__, "errorMessage": str(error)}}
        protocol.write(json.dumps(reply, default=str) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
