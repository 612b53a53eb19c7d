"""SnapStart: what must change when Lambda restores one snapshot into many execution environments.

A snapshot holds the process's memory as it was after init, the `random` module's state
included. Every environment restored from it would draw the same trace and span ids (the SDK's
id generators use `random`), report its first invocation as warm if init invoked the handler
(priming), and reuse the exporter's connections pooled before the snapshot. `register()` asks
the runtime to run `after_restore` in each restored environment; `snapshot_restore_py` exists
only in Lambda's Python runtimes (3.12+): elsewhere there is nothing to register and nothing
changes.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from functions.tracing._state import reset_cold_start, state

_logger = logging.getLogger(__name__)


def register(before_snapshot: Callable[[], object]) -> bool:
    """Run `before_snapshot` (export what is kept: a snapshot must hold no span) before the snapshot,
    and `after_restore` after every SnapStart restore. False where the runtime has no hooks."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    try:
        register_before_snapshot(before_snapshot)
        register_after_restore(after_restore)
    except Exception:  # telemetry never breaks the handler: log and go on
        _logger.warning("tracing: could not register the SnapStart after-restore hook", exc_info=True)
        return False
    return True


def after_restore() -> None:
    """Make this environment its own: fresh ids, a cold first invocation, no pooled connections."""
    try:
        random.seed()  # from os.urandom, which the restored environment draws afresh
        reset_cold_start()
        if state.transport is not None:
            state.transport.close()  # the pool reopens on the next export
    except Exception:  # telemetry never breaks the handler: log and go on
        _logger.warning("tracing: the SnapStart after-restore hook failed", exc_info=True)
