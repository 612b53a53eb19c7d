"""The CPU share and the freezes Lambda gives an execution environment, through Linux cgroups (v1).

Lambda gives a function CPU in proportion to its memory (1,769 MB = one vCPU), and freezes the
environment once the runtime and every extension have asked for the next event: nothing in it runs
until the next invocation thaws it. `LambdaCgroup` does the same to the processes of one local
execution environment:

- a `cpu` cgroup whose `cpu.cfs_quota_us` is `memory / 1769` of `cpu.cfs_period_us`: the runtime
  process and everything it starts get that share of one core, init included (AWS does not say
  whether init gets more; a throttled init is the conservative assumption);
- a `freezer` cgroup, frozen by `freeze()` and thawed by `thaw()`.

The runtime joins both before it runs a line of Python: `join_command()` is an exec wrapper that
writes its own pid into each group's `cgroup.procs` and then execs the runtime, so its children
are in them too. This needs writable cgroup v1 `cpu` and `freezer` hierarchies (root on a machine
that mounts them). Where they are not writable, `LambdaCgroup.create()` returns None and
`unavailable_reason()` says why in one line: the run goes on unthrottled and never frozen.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT = "otel-tracer"
MB_PER_VCPU = 1769
"""Lambda: 'at 1,769 MB, a function has the equivalent of one vCPU'."""
UNTHROTTLED_ENV = "TRACECTL_UNTHROTTLED"
"""Set to 1 to give every function a whole core (freezes still apply): quicker, less faithful."""

_numbers = itertools.count()


def cpu_quota_us(memory_mb: int, period_us: int) -> int:
    """The cfs quota that gives `memory_mb` its Lambda CPU share of one core (at least 1 ms)."""
    return max(1000, round(period_us * memory_mb / MB_PER_VCPU))


def unthrottled() -> bool:
    return os.environ.get(UNTHROTTLED_ENV, "").strip().lower() in ("1", "true", "yes")


def unavailable_reason() -> str | None:
    """None where cgroups can be made here, else one line saying why not."""
    for controller in ("cpu", "freezer"):
        path = CGROUP_ROOT / controller
        if not (path / "cgroup.procs").exists():
            return f"no cgroup v1 {controller} hierarchy at {path}"
        if not os.access(path, os.W_OK):
            return f"{path} is not writable (needs root)"
    return None


class LambdaCgroup:
    """One execution environment's `cpu` and `freezer` groups; `remove()` when its processes are gone."""

    def __init__(self, name: str, memory_mb: int | None) -> None:
        """`memory_mb` None: no CPU quota (unthrottled), freezes only."""
        self.name = f"{name}-{os.getpid()}-{next(_numbers)}"
        self.cpu = CGROUP_ROOT / "cpu" / PARENT / self.name
        self.freezer = CGROUP_ROOT / "freezer" / PARENT / self.name
        self.memory_mb = memory_mb
        self.frozen = False

    @classmethod
    def create(cls, name: str, memory_mb: int, *, throttle: bool = True) -> LambdaCgroup | None:
        """Make the groups (None where cgroups are not available here: see `unavailable_reason`).
        No CPU quota where `throttle` is False or TRACECTL_UNTHROTTLED says so."""
        if unavailable_reason() is not None:
            return None
        group = cls(name, memory_mb if throttle and not unthrottled() else None)
        try:
            group.cpu.mkdir(parents=True, exist_ok=True)
            group.freezer.mkdir(parents=True, exist_ok=True)
            if group.memory_mb is not None:
                period = int((group.cpu / "cpu.cfs_period_us").read_text())
                (group.cpu / "cpu.cfs_quota_us").write_text(str(cpu_quota_us(group.memory_mb, period)))
        except OSError:
            group.remove()
            return None
        return group

    def join_command(self) -> list[str]:
        """An exec wrapper: joins both groups, then runs the command it is given."""
        script = 'echo $$ > "$1/cgroup.procs" && echo $$ > "$2/cgroup.procs" && shift 2 && exec "$@"'
        return ["/bin/sh", "-c", script, "lambda-cgroup", str(self.cpu), str(self.freezer)]

    def pids(self) -> list[int]:
        try:
            return [int(line) for line in (self.freezer / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def freeze(self, timeout_s: float = 2.0) -> bool:
        """Freeze every process of the group; True once the kernel says FROZEN."""
        return self._set_state("FROZEN", timeout_s)

    def thaw(self, timeout_s: float = 2.0) -> bool:
        return self._set_state("THAWED", timeout_s)

    def _set_state(self, wanted: str, timeout_s: float) -> bool:
        state_file = self.freezer / "freezer.state"
        deadline = time.monotonic() + timeout_s
        try:
            state_file.write_text(wanted)
            while state_file.read_text().strip() != wanted:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.001)
        except OSError:
            return False
        self.frozen = wanted == "FROZEN"
        return True

    def remove(self) -> None:
        """Thaw, and remove both groups (a group with processes left in it stays: the kernel refuses)."""
        with contextlib.suppress(OSError):
            if self.frozen:
                self.thaw()
        for path in (self.cpu, self.freezer):
            with contextlib.suppress(OSError):
                path.rmdir()
