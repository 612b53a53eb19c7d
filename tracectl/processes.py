"""Child processes of a local run: loopback ports, and children that never outlive their parent."""

from __future__ import annotations

import ctypes
import os
import random
import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback port nothing listens on, below the kernel's ephemeral range.

    The port is released before the caller's child binds it. A port the kernel hands out for
    `bind(0)` could be handed to the next socket asking (our own servers ask), so the child would
    find it taken; the kernel never hands out ports below its ephemeral range that way."""
    low, _high = _ephemeral_range()
    for _ in range(200):
        port = random.randrange(max(1024, low - 12_000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port below the ephemeral range")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default
    return low, high


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent (this process) dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Child:
    """A process whose output goes to `log`; it gets SIGTERM if this process dies first.

    With `own_group` it leads a process group of its own: SIGTERM goes to it alone (it stops what it
    started its own way, as the emulator shuts its runtime down), and `stop()` then kills whatever of
    the group is left.
    """

    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        log: Path,
        *,
        cwd: Path = ROOT,
        own_group: bool = False,
    ) -> None:
        self.name = name
        self.log = log
        self._own_group = own_group
        self._out = log.open("w")
        self.process = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=own_group,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509 - before exec only
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def last_line(self) -> str:
        lines = [line for line in self.log.read_text(errors="replace").splitlines() if line.strip()]
        return lines[-1][:300] if lines else "(no output)"

    def terminate(self) -> None:
        """Ask it to stop, without waiting (stop() waits): stopping many at once is quicker."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._kill()
                self.process.wait()
        if self._own_group:
            self._kill()  # whatever the leader left behind
        self._out.close()

    def _kill(self) -> None:
        try:
            if self._own_group:
                os.killpg(self.process.pid, signal.SIGKILL)
            else:
                self.process.kill()
        except ProcessLookupError:
            pass
