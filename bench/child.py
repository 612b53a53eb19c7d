"""One fresh process = one Lambda execution environment. Standard library only: it runs in each
twin's Lambda-shaped environment (bench/envs.py), where nothing of this repository is importable
but the twin's bundle.

    python bench_child.py MODULE WARM_INVOCATIONS EVENT_JSON_FILE

Imports MODULE's `handler`, serves the first (cold) invocation, prints `cold-done` (the parent
times spawn → this line), then serves WARM_INVOCATIONS more and prints one JSON line:
{"warm_ms": [...], "max_rss_kib": N}.
"""

import importlib
import json
import os
import resource
import sys
import time
import uuid


class Context:
    """The attributes of Lambda's context object that handlers read."""

    def __init__(self) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "bench")
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        self.memory_limit_in_mb = 512
        self.function_version = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def main(module_name: str, warm: int, event_file: str) -> None:
    with open(event_file) as f:
        event = json.load(f)
    handler = importlib.import_module(module_name).handler
    handler(event, Context())
    print("cold-done", flush=True)
    timings = []
    for _ in range(warm):
        context = Context()
        started = time.perf_counter()
        handler(event, context)
        timings.append((time.perf_counter() - started) * 1000)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"warm_ms": timings, "max_rss_kib": rss}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
