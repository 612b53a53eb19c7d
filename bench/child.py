"""One fresh process = one Lambda execution environment.

    python bench/child.py MODULE WARM_INVOCATIONS

Imports MODULE's `handler`, serves the first (cold) invocation, prints `cold-done` (the parent
times spawn → this line), then serves WARM_INVOCATIONS more and prints one JSON line:
{"warm_ms": [...], "max_rss_kib": N}.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(module_name: str, warm: int) -> None:
    from tracectl.lambda_context import LocalContext
    from tracectl.lambda_events import api_gateway_event

    handler = importlib.import_module(module_name).handler
    event = api_gateway_event("GET", "/bench")
    handler(event, LocalContext(os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "bench")))
    print("cold-done", flush=True)
    timings = []
    for _ in range(warm):
        context = LocalContext("bench")
        started = time.perf_counter()
        handler(event, context)
        timings.append((time.perf_counter() - started) * 1000)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"warm_ms": timings, "max_rss_kib": rss}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
