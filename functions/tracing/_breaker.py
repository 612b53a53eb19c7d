"""When to try a backend that failed: a circuit breaker with exponential backoff.

While the backend answers, the breaker is closed and every export is tried. The first failed export
opens it: exports are skipped (no invocation waits for a backend known to be down) until a probe
is due, `INITIAL_BACKOFF_S` later; each failed probe doubles the wait, up to `MAX_BACKOFF_S`; a
probe that succeeds closes it again. Time is `time.monotonic()`, which runs on while Lambda has the
environment frozen, so a long-idle environment probes at its next invocation.
"""

from __future__ import annotations

import time
from collections.abc import Callable

INITIAL_BACKOFF_S = 0.5
MAX_BACKOFF_S = 5.0


class Breaker:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._backoff_s = 0.0
        self._probe_at = 0.0
        self.failures = 0
        """Failed exports in a row (0 = closed)."""

    @property
    def closed(self) -> bool:
        return self.failures == 0

    def probe_due(self) -> bool:
        """Open, and the backoff since the last failure has passed."""
        return not self.closed and self._now() >= self._probe_at

    def failed(self) -> None:
        self.failures += 1
        self._backoff_s = min(MAX_BACKOFF_S, self._backoff_s * 2 or INITIAL_BACKOFF_S)
        self._probe_at = self._now() + self._backoff_s

    def succeeded(self) -> None:
        self.failures = 0
        self._backoff_s = 0.0

    def _now(self) -> float:
        return self._clock()
