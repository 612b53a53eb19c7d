"""The runtime's side of one execution environment: what Lambda's Runtime API says that the emulator does not.

AWS's Runtime Interface Emulator never hands the invocation's X-Ray trace header to the runtime
(its classic mode has no tracer: no `Lambda-Runtime-Trace-Id` on `/runtime/invocation/next`, so
`_X_AMZN_TRACE_ID` stays unset), and it answers the invoker only after every extension has
finished, where AWS answers as soon as the runtime posts the response. `RuntimeApiProxy` sits
between the runtime client and the emulator's Runtime API and forwards every request unchanged
(Runtime API and Extensions API alike), except that it
- adds `Lambda-Runtime-Trace-Id` to the next invocation's event, with the header Lambda would give
  it (`expect()`), and
- notes when the runtime posted that invocation's response or error, and which: the moment AWS
  would answer the caller, and whether the function failed (AWS's `X-Amz-Function-Error`);
- knows when the runtime is waiting in `/runtime/invocation/next` (done with its invocation): with
  the emulator's answer (every extension done too) that is when Lambda freezes the environment;
- answers `/runtime/restore/next`, which the emulator lacks (404): with SnapStart a runtime asks
  for it once init is done and runs its after-restore hooks when Lambda answers. Here no snapshot
  is taken, so the answer comes at once: the call sequence is SnapStart's, the memory is not.

One invocation at a time, as an execution environment runs them. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import urllib3

from tracectl.http_relay import HOP_BY_HOP, relay

_NEXT = re.compile(r"^/\d{4}-\d{2}-\d{2}/runtime/invocation/next$")
_RESTORE_NEXT = re.compile(r"^/\d{4}-\d{2}-\d{2}/runtime/restore/next$")
_POSTED = re.compile(r"^/\d{4}-\d{2}-\d{2}/runtime/invocation/(?P<request_id>[^/]+)/(?P<kind>response|error)$")


@dataclass(frozen=True)
class Posted:
    """What the runtime posted for an invocation, and when (time.monotonic())."""

    request_id: str
    kind: str
    """`response` or `error`."""
    at: float
    body: bytes


class RuntimeApiProxy:
    """Use as a context manager; `address` is what the runtime's AWS_LAMBDA_RUNTIME_API must be."""

    def __init__(self, upstream: str) -> None:
        """`upstream`: the emulator's Runtime API, `host:port`."""
        self._upstream = f"http://{upstream}"
        # No read timeout: `next` (runtime and extensions) is a long poll that ends with the next event.
        self._http = urllib3.PoolManager(maxsize=8, timeout=urllib3.Timeout(connect=2.0, read=None), retries=False)
        self._lock = threading.Lock()
        self._waiting = threading.Condition(self._lock)
        self._runtime_waiting = 0
        self._trace_header: str | None = None
        self._posts: list[Posted] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # the runtime client keeps its connection open
            disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart

            def do_GET(self) -> None:
                proxy._forward(self)

            def do_POST(self) -> None:
                proxy._forward(self)

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.address = f"127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> RuntimeApiProxy:
        threading.Thread(target=self._server.serve_forever, name="runtime-api-proxy", daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.clear()

    def expect(self, trace_header: str | None) -> None:
        """The next invocation's X-Ray header (`Root=…;Parent=…;Sampled=…`), or None for none."""
        with self._lock:
            self._trace_header = trace_header

    def posted_since(self, since: float) -> Posted | None:
        """The first response or error the runtime posted after `since` (time.monotonic()), if any."""
        with self._lock:
            return next((p for p in self._posts if p.at >= since), None)

    def wait_runtime_waiting(self, timeout_s: float) -> bool:
        """Wait until the runtime asks for its next invocation (True), or `timeout_s` passes."""
        with self._waiting:
            return self._waiting.wait_for(lambda: self._runtime_waiting > 0, timeout=timeout_s)

    def _forward(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else None
        if _RESTORE_NEXT.match(request.path):
            request.send_response(200)
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        posted = _POSTED.match(request.path)
        if posted:
            with self._lock:
                self._posts.append(Posted(posted["request_id"], posted["kind"], time.monotonic(), body or b""))
                del self._posts[:-16]
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        next_invocation = bool(_NEXT.match(request.path))
        try:
            if next_invocation:
                with self._waiting:
                    self._runtime_waiting += 1
                    self._waiting.notify_all()
            try:
                answer = self._http.request(
                    request.command, self._upstream + request.path, body=body, headers=headers, preload_content=True
                )
            finally:
                if next_invocation:
                    with self._waiting:
                        self._runtime_waiting -= 1
        except urllib3.exceptions.HTTPError as error:
            with contextlib.suppress(OSError):  # the runtime may be gone too (the environment stopping)
                request.send_error(502, f"emulator unreachable: {error}")
            return
        extra = {}
        if next_invocation and answer.status == 200:
            with self._lock:
                header = self._trace_header
            if header:
                extra["Lambda-Runtime-Trace-Id"] = header
        relay(request, answer, extra)
