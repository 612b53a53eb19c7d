"""Drive a deployed API: N GET requests with C at a time, collecting the trace id each answer carries.

The `ingest` function answers with `x-trace-id` (32 hex) and the same id in its JSON body.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import urllib3


@dataclass
class TrafficResult:
    sent: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    trace_ids: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if not status.startswith("2"))


def trace_id_of(headers: dict[str, str], body: bytes) -> str | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    if lowered.get("x-trace-id"):
        return lowered["x-trace-id"]
    try:
        document = json.loads(body)
    except ValueError:
        return None
    value = document.get("trace_id") if isinstance(document, dict) else None
    return value if isinstance(value, str) else None


def drive(
    url: str, *, requests: int, concurrency: int, timeout_s: float = 15.0, on_done: Callable[[], None] | None = None
) -> TrafficResult:
    http = urllib3.PoolManager(maxsize=concurrency, timeout=urllib3.Timeout(total=timeout_s), retries=False)
    base = url.rstrip("/")
    result = TrafficResult()

    def one(i: int) -> tuple[str, str | None]:
        try:
            response = http.request("GET", f"{base}/traffic/{i}")
        except urllib3.exceptions.HTTPError as error:
            return type(error).__name__, None
        return str(response.status), trace_id_of(dict(response.headers), response.data)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for status, trace_id in pool.map(one, range(requests)):
            result.sent += 1
            result.statuses[status] += 1
            if trace_id:
                result.trace_ids.append(trace_id)
            if on_done:
                on_done()
    return result
