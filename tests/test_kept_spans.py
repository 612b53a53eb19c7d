"""The kept-span processor and its breaker, in process: bounds that hold, spans that are never lost silently."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from functions.tracing._breaker import INITIAL_BACKOFF_S, MAX_BACKOFF_S, Breaker
from functions.tracing._kept_spans import EXPORT_BATCH, MAX_KEPT_SPANS, KeptSpanProcessor


class Backend(SpanExporter):
    """A fake backend: up or down, answering after `delay_s`; counts what it took."""

    def __init__(self, *, up: bool = True, delay_s: float = 0.0) -> None:
        self.up = up
        self.delay_s = delay_s
        self.received: list[ReadableSpan] = []
        self.requests = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.requests += 1
        time.sleep(self.delay_s)
        if not self.up:
            return SpanExportResult.FAILURE
        self.received.extend(spans)
        return SpanExportResult.SUCCESS


def traced(backend: Backend, sampler=None) -> tuple[KeptSpanProcessor, TracerProvider]:
    processor = KeptSpanProcessor(backend, request_timeout_s=2.0)
    provider = TracerProvider(sampler=sampler) if sampler else TracerProvider()
    provider.add_span_processor(processor)
    return processor, provider


def make_spans(provider: TracerProvider, count: int) -> None:
    tracer = provider.get_tracer("test")
    for number in range(count):
        tracer.start_span(f"span {number}").end()


def test_an_export_returns_within_its_bound_whatever_the_backend_does() -> None:
    backend = Backend(delay_s=1.0)
    processor, provider = traced(backend)
    make_spans(provider, 3)
    started = time.monotonic()
    assert processor.export(0.1) is False  # shorter than the exporter's 2 s per request: a thread of its own
    assert time.monotonic() - started < 0.5
    time.sleep(1.2)  # the export went on in the background and delivered
    assert len(backend.received) == 3


def test_spans_go_in_requests_of_a_batch_and_none_are_unsampled() -> None:
    backend = Backend()
    processor, provider = traced(backend)
    make_spans(provider, EXPORT_BATCH + 1)
    assert processor.requests() == 2 and processor.export(5.0)
    assert backend.requests == 2 and len(backend.received) == EXPORT_BATCH + 1
    not_kept, unsampled = traced(Backend(), sampler=ALWAYS_OFF)
    make_spans(unsampled, 5)
    assert not_kept.kept() == 0


def test_a_batch_is_due_by_size_or_by_age() -> None:
    processor, provider = traced(Backend())
    assert not processor.due(0.0)  # nothing kept
    make_spans(provider, 1)
    assert not processor.due(60.0) and processor.due(0.0)
    make_spans(provider, EXPORT_BATCH)
    assert processor.due(60.0)


def test_a_down_backend_is_asked_once_then_probed_in_the_background_and_keeps_the_spans(caplog) -> None:
    backend = Backend(up=False)
    processor, provider = traced(backend)
    make_spans(provider, 4)
    with caplog.at_level(logging.WARNING):
        assert processor.export(5.0) is False
        assert processor.kept() == 4 and not processor.breaker.closed
        assert processor.export(5.0) is False  # skipped: the backoff has not passed
        assert backend.requests == 1
        backend.up = True
        time.sleep(INITIAL_BACKOFF_S + 0.05)
        assert processor.export(5.0) is False  # the probe goes out in the background
        deadline = time.monotonic() + 5
        while len(backend.received) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(backend.received) == 4 and processor.breaker.closed
    assert sum("did not take" in r.message for r in caplog.records) == 1


def test_past_the_bound_spans_are_dropped_and_counted_in_one_line(caplog) -> None:
    backend = Backend()
    processor, provider = traced(backend)
    make_spans(provider, MAX_KEPT_SPANS + 7)
    with caplog.at_level(logging.WARNING):
        assert processor.export(30.0)
    assert len(backend.received) == MAX_KEPT_SPANS
    [line] = [r.message for r in caplog.records if "dropped" in r.message]
    assert line.startswith("tracing: 7 spans were dropped")


def test_the_breaker_backs_off_exponentially_up_to_its_cap_and_closes_on_success() -> None:
    now = [100.0]
    breaker = Breaker(clock=lambda: now[0])
    assert breaker.closed and not breaker.probe_due()
    waits = []
    for _ in range(6):
        breaker.failed()
        start = now[0]
        while not breaker.probe_due():
            now[0] += 0.25
        waits.append(now[0] - start)
    assert waits == [INITIAL_BACKOFF_S, 1.0, 2.0, 4.0, MAX_BACKOFF_S, MAX_BACKOFF_S]
    breaker.succeeded()
    assert breaker.closed and breaker.failures == 0


def test_only_one_sender_at_a_time() -> None:
    backend = Backend(delay_s=0.2)
    processor, provider = traced(backend)
    make_spans(provider, 2)
    threads = [threading.Thread(target=processor.export, args=(5.0,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(backend.received) == 2 and backend.requests == 1
