"""The bill: what tracing costs as Lambda bills a function, and what a dead backend costs ours.

Every emulated run (bench/emulated.py) gives each twin its environment at 512 MB's CPU share, frozen
between invocations (tracectl/emulation/lambda_cgroup.py). Lambda bills each invocation's duration until the
runtime *and every extension* are done, in 1 ms steps, at the function's memory: that is the
"environment held" the emulator's answer measures. A million invocations cost
`held * 0.5 GB * price per GB-second + price per request`.

`outages()` runs ours (after every invocation, and with TRACING_EXPORT_DELAY_S=5) with its OTLP
backend healthy (80 ms late), refusing connections, black-holed (accepting connections, never
answering) and answering 503, and reports the environment held per invocation from the sixth on.
"""

from __future__ import annotations

import math
import socket
import statistics
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench import emulated
from bench.envs import Twin
from tracectl.emulation import runtime_and_bundle
from tracectl.stats import percentile

MEMORY_GB = emulated.MEMORY_MB / 1024
PRICE_PER_GB_SECOND = 0.0000166667
PRICE_PER_REQUEST = 0.20 / 1_000_000
PRICE = (
    "AWS Lambda list prices for us-east-1, x86_64, on-demand, first pricing tier: $0.0000166667 per GB-second "
    "and $0.20 per million requests (as published in 2026-12; arm64 is 20 % cheaper per GB-second)"
)
DELAY_S = "5"
FAULTS = ("healthy", "refused", "black-holed", "503")
FIRST_COUNTED = 6
"""Outage rows count invocations from this one on: the first ones find out that the backend is down."""


def ours_with_delay(ours: Twin) -> Twin:
    """Ours keeping spans across invocations: TRACING_EXPORT_DELAY_S=5."""
    return replace(ours, name="ours_delay", env={**ours.env, "TRACING_EXPORT_DELAY_S": DELAY_S})


def cost_per_million(held_ms: float) -> float:
    """Dollars per million invocations billed `held_ms` each (rounded up to Lambda's 1 ms step)."""
    billed_s = math.ceil(held_ms) / 1000
    return round(1_000_000 * (billed_s * MEMORY_GB * PRICE_PER_GB_SECOND + PRICE_PER_REQUEST), 2)


def outages(
    twins: dict[str, Twin], base_env: dict[str, str], event: dict, scratch: Path, invocations: int, healthy: str,
    trace_header: Callable[[], str],
) -> dict[str, dict[str, dict[str, float]]]:
    """fault → twin (ours, ours_delay) → held p50 / p99 / max (ms) from the sixth invocation on, and the first's."""
    runtime = runtime_and_bundle.runtime(next(iter(twins.values())).command[0])
    results: dict[str, dict[str, dict[str, float]]] = {}
    for fault in FAULTS:
        with _backend(fault, healthy) as endpoint:
            env = {**base_env, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
            results[fault] = {}
            for name, twin in twins.items():
                log = scratch / f"outage-{fault}-{name}.log"
                # A name of its own: the healthy run's spans are not the response run's to count.
                apart = replace(twin, name=f"outage_{name}")
                with emulated.lambda_environment(apart, env, runtime, log) as environment:
                    held = [environment.invoke(event, trace_header=trace_header()).finished_s * 1000
                            for _ in range(invocations)]
                counted = held[FIRST_COUNTED - 1 :]
                results[fault][name] = {
                    "first_held_ms": round(held[0], 1),
                    "second_held_ms": round(held[1], 1),
                    "held_ms_p50": round(statistics.median(counted), 1),
                    "held_ms_p99": round(percentile(counted, 99), 1),
                    "held_ms_max": round(max(counted), 1),
                }
    for by_twin in results.values():
        for name, row in by_twin.items():
            row["added_p50_ms"] = round(row["held_ms_p50"] - results["healthy"][name]["held_ms_p50"], 1)
    return results


@contextmanager
def _backend(fault: str, healthy: str) -> Iterator[str]:
    """The OTLP endpoint for `fault`: the healthy sink, or one that fails that way."""
    if fault == "healthy":
        yield healthy
        return
    if fault == "refused":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        yield f"http://127.0.0.1:{port}"  # closed again: nothing listens there
        return
    if fault == "black-holed":
        with socket.socket() as s:  # listening (the kernel completes connections), never read
            s.bind(("127.0.0.1", 0))
            s.listen(1024)
            yield f"http://127.0.0.1:{s.getsockname()[1]}"
        return

    class Unavailable(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
