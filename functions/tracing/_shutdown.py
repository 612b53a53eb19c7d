"""Export what is kept when Lambda shuts the environment down, on every Python runtime.

With an extension registered (ours counts), Lambda shuts an environment down by sending the runtime
SIGTERM, allowing 500 ms (internal extensions only), then SIGKILL; an internal extension cannot
register for the SHUTDOWN event, so SIGTERM is the only notice. A Python signal handler runs only
in the main thread, between bytecodes, and on python3.11 awslambdaric's main thread waits for the
next invocation in native code: a plain handler never runs there. What works on every version:
once any Python handler is set for a signal, the interpreter's C-level handler writes the signal's
number to the descriptor given to `signal.set_wakeup_fd`, from whatever the main thread is doing.
`install()` sets a handler that does nothing itself, points the wakeup descriptor at a pipe, and
starts a thread that waits on the pipe: on SIGTERM it exports within `GRACE_S`, then ends the
process as SIGTERM would have.

Left alone (and said once in the log): a process that already has its own SIGTERM handler or
wakeup descriptor (asyncio's loop with signal handlers sets one), and a call from any thread but
the main one (Python allows neither call there).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

_logger = logging.getLogger(__name__)
GRACE_S = 0.45
"""What the export at shutdown may take: under the 500 ms Lambda allows an internal extension."""


def install(export: Callable[[float], bool]) -> bool:
    """On SIGTERM, `export(GRACE_S)` and exit. False (and one log line) where that cannot be set up."""
    if threading.current_thread() is not threading.main_thread():
        return _not_installed("not called from the main thread")
    if signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None):
        return _not_installed("the process has a SIGTERM handler of its own")
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    try:
        previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        if previous != -1:
            signal.set_wakeup_fd(previous)
            raise ValueError("the process has a signal wakeup descriptor of its own")
        signal.signal(signal.SIGTERM, _in_main_thread)
    except (ValueError, OSError) as error:
        os.close(read_fd)
        os.close(write_fd)
        return _not_installed(str(error))
    threading.Thread(target=_wait, args=(read_fd, export), name="otel-tracer-shutdown", daemon=True).start()
    return True


def _in_main_thread(_signum: int, _frame: FrameType | None) -> None:
    """Python's own handler: the waiting thread does the work, on every version alike."""


def _wait(read_fd: int, export: Callable[[float], bool]) -> None:
    while True:
        try:
            data = os.read(read_fd, 64)
        except InterruptedError:
            continue
        except OSError:
            return
        if not data:
            return
        if signal.SIGTERM in data:
            break
    try:
        export(GRACE_S)
    except Exception:  # telemetry never breaks the function: log and go on
        _logger.warning("tracing: exporting at shutdown failed", exc_info=True)
    finally:
        os._exit(128 + signal.SIGTERM)


def _not_installed(why: str) -> bool:
    _logger.info("tracing: spans kept at shutdown may be lost: %s", why)
    return False
