"""The twins as Lambda runs them: AWS's runtime interface emulator and the real runtime client.

Two measures the direct runs (bench/child.py) cannot make:

- **response latency and the bill**: per warm invocation, from invoke until the runtime posts its response
  (when AWS answers the caller; the emulator's own answer waits for extensions, so the Runtime
  API proxy's record of the post is used), with the OTLP backend answering each export 80 ms
  late, as the ADOT collector layer answers only once it has exported (tracectl/traces/otlp_receiver.py).
  The twins run interleaved, one invocation each per round in an order shuffled every round (a
  twin's position moved its figures by ±2 ms here); the first (cold) one is left out. Each
  twin's environment has 512 MB's CPU share and is frozen between invocations (as everywhere the
  emulator runs here); the environment held per invocation is what Lambda bills (bench/bill.py),
  and the spans are counted once every environment was shut down (SIGTERM, as Lambda does).
- **instructions under the runtime client** (callgrind on the runtime process, through the
  emulator's exec wrapper; its counts are written when the process is signalled to end): cold = the
  runtime's start to the end of the first invocation, warm = (a run with W more invocations minus
  the cold run) / W. This is the cost as shipped: the runtime client's loop for every twin, and
  for ours the after-response extension's registration, thread and `next` calls.
ADOT's wrapper execs a second interpreter, which callgrind cannot follow into one count here: it
gets the response-latency row only.
"""

from __future__ import annotations

import os
import random
import re
import signal
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path

from bench.envs import Twin
from tracectl.emulation import runtime_and_bundle
from tracectl.emulation.execution_environment import ExecutionEnvironment, FunctionSpec
from tracectl.stats import percentile

MEMORY_MB = 512
"""Every twin's memory: the app's functions' size, and what its CPU share follows."""
BACKEND_S = 0.08
"""How late the OTLP backend answers each export."""
_COLLECTED = re.compile(r"==\d+== Collected : (\d+)")
CALLGRIND_TWINS = ("plain", "ours", "ours_delay", "powertools", "otel_lite")
# Generous: under callgrind a cold start is ~50 times slower.
TIMEOUT_S = 900
# Under callgrind an invocation takes ~50 times longer, so a 5 s delay would export every few
# invocations. Counted, the delay twin exports only by the batch (512 spans), which its 1 + W
# invocations do not reach: its rows are the per-invocation cost without the export, whose encoding
# (about 0.6 M instructions a span, --profile) is paid once per span whenever the batch leaves.
# Killed as the others are, it never exports what it kept: its counted runs deliver no span.
_CALLGRIND_ENV = {"ours_delay": {"TRACING_EXPORT_DELAY_S": "900"}}
KEPT_WHEN_COUNTED = frozenset({"ours_delay"})
# lambda-otel-lite exports after the response only in this mode (its default flushes in the handler).
_EMULATED_ENV = {"otel_lite": {"LAMBDA_EXTENSION_SPAN_PROCESSOR_MODE": "async"}}


def _function(twin: Twin, base_env: dict[str, str], runtime: Path) -> FunctionSpec:
    return FunctionSpec(
        name=f"bench-{twin.name}",
        handler=twin.handler,
        python_version=runtime_and_bundle.python_version(str(runtime)),
        memory_mb=MEMORY_MB,
        timeout_s=TIMEOUT_S,
        environment={
            **base_env,
            "OTEL_SERVICE_NAME": f"bench-{twin.name}",
            **twin.env,
            **_EMULATED_ENV.get(twin.name, {}),
        },
    )


@contextmanager
def lambda_environment(
    twin: Twin, base_env: dict[str, str], runtime: Path, log: Path, profiler: list[str] | None = None
) -> Iterator[ExecutionEnvironment]:
    """The twin under the emulator; a profiled one gets a whole core (instructions do not depend on
    the CPU share, and valgrind is slow enough)."""
    wrapper = [*(profiler or []), *twin.exec_wrapper]
    with ExecutionEnvironment(
        _function(twin, base_env, runtime),
        task=twin.task,
        runtime_python=runtime,
        log=log,
        exec_wrapper=wrapper,
        throttle=profiler is None,
    ) as environment:
        yield environment


def response_latency(
    twins: dict[str, Twin],
    base_env: dict[str, str],
    event: dict,
    scratch: Path,
    invocations: int,
    trace_header: Callable[[], str],
) -> dict[str, dict]:
    """Per twin: warm response p50/p99 (ms), environment held p50 (ms), cold response, failures.

    Every invocation gets a fresh sampled X-Ray header, as Lambda with Active tracing gives it
    (the X-Ray SDK, Powertools', traces nothing without one)."""
    runtime = runtime_and_bundle.runtime(next(iter(twins.values())).command[0])
    rounds: list[dict[str, tuple[float, float]]] = []  # per round: twin → (response ms, held ms)
    cold: dict[str, float] = {}
    errors = dict.fromkeys(twins, 0)
    with ExitStack() as running:
        environments = {
            name: running.enter_context(lambda_environment(twin, base_env, runtime, scratch / f"emulated-{name}.log"))
            for name, twin in twins.items()
        }
        shuffled = random.Random(0)  # the same orders every run
        for round_number in range(1 + invocations):
            this_round = {}
            # A new order each round: no twin always runs first, or right after the same other one.
            order = list(environments.items())
            shuffled.shuffle(order)
            for name, environment in order:
                invocation = environment.invoke(event, trace_header=trace_header())
                if invocation.error is not None or invocation.responded_s is None:
                    errors[name] += 1
                    continue
                if round_number == 0:
                    cold[name] = invocation.responded_s * 1000
                else:
                    this_round[name] = (invocation.responded_s * 1000, invocation.finished_s * 1000)
            if round_number:
                rounds.append(this_round)
    results = {}
    for name in twins:
        responded = [r[name][0] for r in rounds if name in r]
        held = [r[name][1] for r in rounds if name in r]
        # Each round runs every twin once, back to back: the difference within a round cancels the
        # drift of a shared machine (moto's speed, the other core's load) that medians apart keep.
        paired = [r[name][0] - r["plain"][0] for r in rounds if name in r and "plain" in r]
        results[name] = {
            "warm_response_ms_p50": round(statistics.median(responded), 3),
            "warm_response_ms_p99": round(percentile(responded, 99), 3),
            "warm_response_added_p50_ms": round(statistics.median(paired), 3),
            "warm_environment_held_ms_p50": round(statistics.median(held), 3),
            "cold_response_ms": round(cold.get(name, float("nan")), 1),
            "failed_invocations": errors[name],
            "invocations": 1 + invocations,
        }
    return results


def instructions(
    twins: dict[str, Twin], base_env: dict[str, str], event: dict, scratch: Path, warm: int
) -> dict[str, dict[str, float]]:
    """Per twin (but ADOT): cold and warm-per-invocation instructions of the runtime process."""
    runtime = runtime_and_bundle.runtime(next(iter(twins.values())).command[0])
    counted = {}
    for name in CALLGRIND_TWINS:
        if name not in twins:
            continue
        cold = _count(twins[name], base_env, event, scratch, runtime, 0)
        both = _count(twins[name], base_env, event, scratch, runtime, warm)
        counted[name] = {"cold": cold, "warm_per_invocation": (both - cold) / warm}
    return counted


def _count(twin: Twin, base_env: dict[str, str], event: dict, scratch: Path, runtime: Path, warm: int) -> int:
    """Instructions of the runtime process for 1 + `warm` invocations (hash seed fixed), until it ends."""
    out = scratch / f"callgrind-{twin.name}-{warm}.out"
    log = scratch / f"callgrind-{twin.name}-{warm}.log"
    profiler = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    seeded = {**base_env, "PYTHONHASHSEED": "0"}
    counted = replace(twin, env={**twin.env, **_CALLGRIND_ENV.get(twin.name, {})})  # over the twin's own
    with lambda_environment(counted, seeded, runtime, log, profiler) as environment:
        for number in range(1 + warm):
            # The same header sequence every run: the counts depend on nothing that varies.
            header = f"Root=1-5f8a1b2c-{number:024x};Parent={number + 1:016x};Sampled=1"
            invocation = environment.invoke(event, trace_header=header)
            if invocation.error is not None:
                raise RuntimeError(f"{twin.name} under callgrind failed: {invocation.error}")
        pid = environment.runtime_pid()
        if pid is None:
            raise RuntimeError(f"{twin.name}: no runtime process to stop")
        if environment.cgroup is not None:
            environment.cgroup.thaw()  # a frozen process acts on no signal
        # A signal no twin handles, whose default action ends the process: valgrind writes its
        # counts then (lambda-otel-lite catches SIGTERM and then waits on its extension thread).
        os.kill(pid, signal.SIGUSR2)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _COLLECTED.search(log.read_text(errors="replace")):
            time.sleep(0.2)
    counts = _COLLECTED.findall(log.read_text(errors="replace"))
    if len(counts) != 1:
        raise RuntimeError(f"{twin.name}: callgrind reported {counts} (log: {log})")
    return int(counts[0])
