"""One local Lambda execution environment: `python -m tracectl.worker FUNCTION`.

Imports the function's handler once (so cold start happens once per worker), then serves
invocations: one JSON line in on stdin `{"event": ..., "request_id": ...}`, one JSON line out
`{"result": ...}` or `{"error": {"errorType", "errorMessage"}}`. Whatever the handler prints
goes to stderr, which the runner keeps as the function's log, as CloudWatch Logs would.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback


def main(function_name: str) -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the handler's stdout (its JSON logs) joins stderr
    sys.stdout = os.fdopen(1, "w", buffering=1)
    from tracectl.lambda_context import LocalContext

    module_name, _, attribute = os.environ["_HANDLER"].rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
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
