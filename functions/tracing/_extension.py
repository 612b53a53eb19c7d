"""Export after the response: an internal Lambda extension, a thread of the function's own process.

Without it the handler's last step is to flush, and the ADOT collector layer exports to X-Ray or
Jaeger before answering that flush (it has no queue), so every response waits for the backend.
With it, Lambda's own lifecycle does the waiting (AWS Lambda Extensions API):

1. during init, `register()` registers the extension for INVOKE events (before the runtime asks
   for its first event, as Lambda requires) and starts its thread;
2. the thread asks for the next event; Lambda answers when an invocation begins;
3. the handler returns; the runtime posts its response and Lambda hands it to the caller at once;
4. the thread, told by the handler's wrapper that this invocation (by request id) is over
   (`invocation_finished`), calls `after_invocation`, then asks for the next event: only now, with the
   runtime and every extension done, may Lambda freeze the environment. `after_invocation` exports
   the invocation's spans (bounded by the export timeout) or, with TRACING_EXPORT_DELAY_S, keeps them
   until a batch is due; what is kept when Lambda shuts the environment down leaves then
   (functions/tracing/_shutdown.py).

A handler that runs into its timeout never tells the thread: shortly before the deadline the
thread ends the invocation span as timed out and exports it with everything finished so far,
because Lambda then kills the process. If registration fails, `register()` returns None and the
bootstrap exports inline, as outside Lambda. Time spent here is billed (Lambda bills until every
extension is done) and counts toward the function's timeout. Nothing here raises into the handler.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.trace import Status, StatusCode

from functions.tracing import _settings
from functions.tracing._state import state

_logger = logging.getLogger(__name__)
NAME = "otel-tracer"
API = "/2020-01-01/extension"
# Ending a timing-out invocation's span: this long before the deadline (at most), to export it in.
TIMEOUT_MARGIN_S = 0.5
# What an export after the response leaves of the invocation's time: Lambda ends it at the deadline.
DEADLINE_MARGIN_S = 0.05
_FAILURES_BEFORE_GIVING_UP = 3


class AfterResponseExporter:
    """The extension's thread and the handler's side of it (`invocation_finished`)."""

    def __init__(
        self,
        runtime_api: str,
        extension_id: str,
        *,
        after_invocation: Callable[[float | None], object],
        export: Callable[[float], bool],
        timeout_s: float,
        primed: bool,
    ) -> None:
        """`after_invocation(left_s)`: what to do once an invocation is over, within the seconds left
        before Lambda ends it (None where Lambda gave no deadline); `export(bound_s)`: send everything
        kept now, within the bound; `primed`: init may invoke the handler itself (SnapStart,
        provisioned concurrency)."""
        self._primed = primed
        self._runtime_api = runtime_api
        self._extension_id = extension_id
        self._after_invocation = after_invocation
        self._export = export
        self._timeout_s = timeout_s
        # Request ids of invocations begun (INVOKE events) and finished (the handler's wrapper), so that
        # each export waits for its own invocation: not for a call made during init (SnapStart
        # priming), nor for a handler that returns after its timeout span was exported.
        self._changed = threading.Condition()
        self._begun: list[str] = []
        self._finished: list[str] = []
        self.working = True
        """False once the Extensions API stopped answering: the bootstrap then exports inline."""

    def invocation_finished(self, request_id: str | None) -> bool:
        """The handler of `request_id` returned or raised. True: the thread exports its spans now.

        False where init may call the handler itself (SnapStart and provisioned concurrency prime
        it) and no invocation has reached the thread yet: such spans must not wait in the snapshot,
        so the caller flushes them (a first invocation that beat its INVOKE event to the thread
        then flushes inline once). The handler may finish before the thread hears of its INVOKE
        event: the request id is kept, and the thread finds it."""
        with self._changed:
            self._finished = [*self._finished[-15:], str(request_id)]
            self._changed.notify_all()
            return bool(self._begun) or not self._primed

    def run(self) -> None:
        connection = http.client.HTTPConnection(self._runtime_api)  # no timeout: `next` is a long poll
        failures = 0
        while True:
            try:
                event = self._next(connection)
            except (OSError, http.client.HTTPException, ValueError) as error:
                connection.close()
                failures += 1
                if failures >= _FAILURES_BEFORE_GIVING_UP:
                    self.working = False
                    _logger.warning("tracing: the Extensions API stopped answering (%s); exporting inline", error)
                    return
                time.sleep(0.05 * failures)
                continue
            failures = 0
            try:
                if event.get("eventType") == "SHUTDOWN":
                    self._export(self._timeout_s)
                    return
                self._export_after(event)
            except Exception:  # telemetry never breaks the function: log and go on
                _logger.warning("tracing: exporting after the response failed", exc_info=True)

    def _next(self, connection: http.client.HTTPConnection) -> dict[str, Any]:
        connection.request("GET", f"{API}/event/next", headers={"Lambda-Extension-Identifier": self._extension_id})
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise ValueError(f"next event: HTTP {response.status} {body[:200]!r}")
        event = json.loads(body or b"{}")
        return event if isinstance(event, dict) else {}

    def _export_after(self, event: dict[str, Any]) -> None:
        deadline_ms = event.get("deadlineMs")
        deadline = deadline_ms / 1000 if isinstance(deadline_ms, int | float) else None
        request_id = str(event.get("requestId"))
        with self._changed:
            self._begun = [*self._begun[-15:], request_id]
            if deadline is None:
                done = self._changed.wait_for(lambda: request_id in self._finished)
            else:
                left = deadline - time.time()
                done = self._changed.wait_for(
                    lambda: request_id in self._finished, timeout=max(0.0, left - min(TIMEOUT_MARGIN_S, 0.1 * left))
                )
        if done or deadline is None:
            self._after_invocation(None if deadline is None else _left_before(deadline))
            return
        # Lambda kills the process at the deadline: the timing-out invocation's span, and everything
        # kept, goes out now, within what is left.
        self._end_timed_out_invocation()
        self._export(_left_before(deadline))

    @staticmethod
    def _end_timed_out_invocation() -> None:
        span = state.invocation_span
        if span is not None and span.is_recording():
            span.set_status(Status(StatusCode.ERROR, "Task timed out: the function ran into its timeout"))
            span.set_attribute("faas.timeout", True)
            span.end()


def _left_before(deadline: float) -> float:
    """Seconds an export may take before `deadline` (time.time()), when Lambda ends the invocation."""
    return max(0.05, deadline - time.time() - DEADLINE_MARGIN_S)


def register(
    runtime_api: str,
    *,
    after_invocation: Callable[[float | None], object],
    export: Callable[[float], bool],
    timeout_s: float,
) -> AfterResponseExporter | None:
    """Register with the Extensions API and start the thread; None (and one log line) if that fails."""
    try:
        connection = http.client.HTTPConnection(runtime_api, timeout=2.0)
        body = json.dumps({"events": ["INVOKE"]})
        connection.request("POST", f"{API}/register", body=body, headers={"Lambda-Extension-Name": NAME})
        response = connection.getresponse()
        response.read()
        extension_id = response.getheader("Lambda-Extension-Identifier")
        connection.close()
        if response.status != 200 or not extension_id:
            raise ValueError(f"HTTP {response.status}, identifier {extension_id!r}")
    except (OSError, http.client.HTTPException, ValueError) as error:
        _logger.warning("tracing: could not register the after-response extension (%s); exporting inline", error)
        return None
    primed = _settings.initialization_type() != "on-demand"
    exporter = AfterResponseExporter(
        runtime_api, extension_id, after_invocation=after_invocation, export=export, timeout_s=timeout_s, primed=primed
    )
    threading.Thread(target=exporter.run, name="otel-tracer-extension", daemon=True).start()
    return exporter
