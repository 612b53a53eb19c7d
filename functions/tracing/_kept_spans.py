"""The span processor every handler shares: finished spans kept in memory until they are exported.

The SDK's `BatchSpanProcessor` exports from a worker thread on a timer, takes a lock per span, and
drops spans past a queue of 2,048. In Lambda nothing runs while the environment is frozen, so the
only useful moments to export are the ones the after-response exporter chooses (after an invocation,
at shutdown); this processor does only what those need:

- `on_end` keeps each sampled span (a list append), up to `MAX_KEPT_SPANS`; past it, spans are
  counted, dropped, and one log line says how many when the next export succeeds (or at shutdown);
- `due(delay_s)`: whether what is kept should leave now (`EXPORT_BATCH` spans, or the oldest has
  waited `delay_s`);
- `export(bound_s)` sends everything kept, in requests of at most `EXPORT_BATCH` spans, and returns
  within `bound_s` whatever the backend does: in the caller's thread where the exporter's own
  timeout per request already keeps to the bound, else in a thread of its own that the caller stops
  waiting for (a real bound, unlike the SDK's `force_flush` in 1.45);
- through a `Breaker`: once an export fails, no caller waits for the backend any more; a probe is
  sent in the background when the backoff allows, and what could not be sent stays kept (within
  the bound) for when the backend is back.

Never raises into its caller.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, Context, attach, detach, set_value
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from functions.tracing._breaker import Breaker

_logger = logging.getLogger(__name__)
MAX_KEPT_SPANS = 16_384
"""Spans kept at most: one invocation of 10,000 spans, plus a batch from earlier ones, with room."""
EXPORT_BATCH = 512
"""Spans per export request, and how many kept spans make an export due (the SDK's batch default)."""


class KeptSpanProcessor(SpanProcessor):
    def __init__(self, exporter: SpanExporter, request_timeout_s: float) -> None:
        """`request_timeout_s`: what the exporter allows one request (its own timeout)."""
        self.exporter = exporter
        self.request_timeout_s = request_timeout_s
        self.breaker = Breaker()
        self._kept: list[ReadableSpan] = []
        self._kept_since = 0.0
        self._dropped = 0
        self._in_flight = 0
        self._lock = threading.Lock()  # guards _kept, _kept_since, _dropped, _in_flight
        self._sending = threading.Lock()  # one sender at a time

    # SpanProcessor

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if not span.context.trace_flags.sampled:
            return
        with self._lock:
            if len(self._kept) >= MAX_KEPT_SPANS:
                self._dropped += 1
                return
            if not self._kept:
                self._kept_since = time.monotonic()
            self._kept.append(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.export(timeout_millis / 1000)

    def shutdown(self) -> None:
        self.exporter.shutdown()

    # What the bootstrap calls

    def kept(self) -> int:
        return len(self._kept)

    def undelivered(self) -> int:
        """Spans kept or being sent right now."""
        with self._lock:
            return len(self._kept) + self._in_flight

    def requests(self) -> int:
        """Export requests what is kept now takes."""
        return -(-len(self._kept) // EXPORT_BATCH)

    def due(self, delay_s: float) -> bool:
        """Something is kept, and it is `EXPORT_BATCH` spans or its oldest has waited `delay_s`."""
        with self._lock:
            if not self._kept:
                return False
            return len(self._kept) >= EXPORT_BATCH or time.monotonic() - self._kept_since >= delay_s

    def export(self, bound_s: float, *, last: bool = False) -> bool:
        """Send what is kept, returning within `bound_s`. True: all of it arrived. `last`: the last
        chance (shutdown): tried even though the breaker is open, and nothing goes on after it."""
        if not self._kept and not self._dropped and not self._in_flight:
            return True
        if not self.breaker.closed and not last:
            if self.breaker.probe_due() and not self._sending.locked():
                threading.Thread(target=self._send, name="otel-tracer-probe", daemon=True).start()
            return False
        if not last and bound_s >= self.requests() * self.request_timeout_s:
            return self._send()  # the exporter's own timeout bounds each request: no thread needed
        done = threading.Event()
        outcome: list[bool] = []

        def send() -> None:
            outcome.append(self._send())
            done.set()

        threading.Thread(target=send, name="otel-tracer-export", daemon=True).start()
        if not done.wait(bound_s):
            if not last:
                _logger.warning("tracing: the export did not finish within %.2f s; it goes on in the background",
                                bound_s)
            return False
        return outcome[0]

    def _send(self) -> bool:
        # The exporter's own HTTP request is not the app's: no span for it (as the SDK's processors do).
        token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            return self._send_kept()
        finally:
            detach(token)

    def _send_kept(self) -> bool:
        with self._sending:
            with self._lock:
                spans, self._kept = self._kept, []
                dropped, self._dropped = self._dropped, 0
                self._in_flight = len(spans)
            try:
                return self._send_taken(spans, dropped)
            finally:
                with self._lock:
                    self._in_flight = 0

    def _send_taken(self, spans: list[ReadableSpan], dropped: int) -> bool:
        start = 0
        try:
            for start in range(0, len(spans), EXPORT_BATCH):
                if self.exporter.export(spans[start : start + EXPORT_BATCH]) is not SpanExportResult.SUCCESS:
                    self._keep_again(spans[start:], dropped)
                    return False
        except Exception:  # telemetry never breaks the handler: log and go on
            _logger.warning("tracing: exporting spans failed", exc_info=True)
            self._keep_again(spans[start:], dropped)
            return False
        self.breaker.succeeded()
        if dropped:
            _logger.warning("tracing: %d spans were dropped (more than %d waiting to be exported)", dropped,
                            MAX_KEPT_SPANS)
        return True

    def _keep_again(self, unsent: Sequence[ReadableSpan], dropped: int) -> None:
        """After a failed export: the unsent spans go back in front of newer ones, within the bound."""
        self.breaker.failed()
        with self._lock:
            self._in_flight = 0
            room = max(0, MAX_KEPT_SPANS - len(self._kept))
            again = list(unsent[:room])
            self._dropped += dropped + len(unsent) - len(again)
            if again:
                self._kept_since = time.monotonic()
            self._kept = again + self._kept
        if self.breaker.failures == 1:
            _logger.warning("tracing: the trace backend did not take %d spans; keeping them and trying again "
                            "later without holding invocations", len(unsent))
