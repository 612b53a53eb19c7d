"""The runtime state of the tracing bootstrap, in one place (imports nothing of this package).

One execution environment runs one invocation at a time, so this is module state: the provider
`setup()` built, the exporter's transport, the export bound, whether the next invocation is the
environment's first, the invocation in progress (for log lines and for the after-response
exporter), and that exporter once registered.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span


@dataclass
class State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    provider: TracerProvider | None = None
    transport: Any = None
    """The OTLP exporter's HTTP transport when we chose it (its pool is dropped after a SnapStart restore)."""
    processor: Any = None
    """The kept-span processor (functions/tracing/_kept_spans.py) once `setup()` built it."""
    export_timeout_s: float = 2.0
    export_delay_s: float = 0.0
    """TRACING_EXPORT_DELAY_S: how long a kept span may wait (0: export after every invocation)."""
    cold_start: bool = True
    """The next invocation is this execution environment's first."""
    invocation_span: Span | None = None
    """The Lambda handler's invocation span while it runs (the after-response exporter ends it on a timeout)."""
    after_response: Any = None
    """The registered after-response exporter (functions/tracing/_extension.py), or None: export inline."""
    after_response_decided: bool = False
    """Whether to export after the response was settled (registered, or why not said once)."""


state = State()

# (request id, cold start) of the invocation in progress, for log lines; set by the handler decorator.
current_invocation: ContextVar[tuple[str | None, bool | None]] = ContextVar("invocation", default=(None, None))


def take_cold_start() -> bool:
    """True for this execution environment's first invocation only."""
    cold_start, state.cold_start = state.cold_start, False
    return cold_start


def reset_cold_start() -> None:
    """The next invocation is this environment's first again (after a SnapStart restore)."""
    state.cold_start = True
