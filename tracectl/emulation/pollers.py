"""Lambda's event sources, polled side by side: one thread per function, as AWS runs them.

In AWS each event source mapping (SQS, DynamoDB Streams) has pollers of its own, and SNS, EventBridge
and S3 invoke asynchronously through Lambda's own queue: nothing waits for another function's
deliveries. So each function here gets a thread that polls its source every `INTERVAL_S` and invokes
it with what it found, from the moment the run starts sending: an S3 notification or a stream record
reaches its function within a poll of being written, not after every other delivery (the ~6 s a
single loop over all functions took in the demo). Each function still has one execution
environment, so its own invocations stay one at a time, in order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

INTERVAL_S = 0.05
"""Between two empty polls of one source. Lambda's SQS pollers long-poll (up to 20 s); a stream's
shards are read about four times a second; here every source is read 20 times a second."""


class Pollers:
    """`start()` the threads, `wait_quiet()` until no source has anything left, then `stop()`."""

    def __init__(self, sources: dict[str, Callable[[], int]]) -> None:
        """`sources`: {function name: poll once, invoking the function; returns how many batches it delivered}."""
        self._sources = sources
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._empty_since: dict[str, float | None] = dict.fromkeys(sources)
        """When each source's latest poll that found nothing began (None: it is polling or delivered)."""
        self._last_delivery = time.monotonic()
        self._threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def start(self) -> None:
        if self._threads:
            return
        for name, poll in self._sources.items():
            thread = threading.Thread(target=self._run, args=(name, poll), name=f"poller-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def delivered(self) -> None:
        """Something was invoked (by a poller or by the caller): every source must look again."""
        with self._lock:
            self._last_delivery = time.monotonic()

    def wait_quiet(self, *, timeout_s: float, on_delivery: Callable[[], None] | None = None) -> bool:
        """True once every source's last poll found nothing and began after the last delivery and after
        this call (what the caller did just before is seen); False when `timeout_s` ran out first."""
        self.start()
        since = time.monotonic()
        deadline = since + timeout_s
        seen = self._last_delivery
        while time.monotonic() < deadline:
            if self.errors:
                raise self.errors[0]
            with self._lock:
                after = max(self._last_delivery, since)
                quiet = all(t is not None and t > after for t in self._empty_since.values())
                if self._last_delivery != seen and on_delivery is not None:
                    seen = self._last_delivery
                    on_delivery()
            if quiet:
                return True
            time.sleep(INTERVAL_S)
        return False

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join()
        self._threads = []

    def _run(self, name: str, poll: Callable[[], int]) -> None:
        while not self._stopping.is_set():
            began = time.monotonic()
            with self._lock:
                self._empty_since[name] = None
            try:
                delivered = poll()
            except Exception as error:  # noqa: BLE001 -- handed to wait_quiet, which raises it in the caller
                self.errors.append(error)
                return
            if delivered:
                self.delivered()
                continue
            with self._lock:
                self._empty_since[name] = began
            self._stopping.wait(INTERVAL_S)
