"""How one twin runs for the benchmark, and what it delivered: the pieces `python -m bench` and
`--profile` share.

`trace_sink` starts bench/sink.py (the OTLP backend and the X-Ray daemon's UDP port) in a process of
its own; `Runner` starts a twin's fresh process in its Lambda-shaped environment, timed or under
callgrind; `spans_by_twin` counts what the sink received per twin against what it should have.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.envs import Twin
from tracectl.traces.trace_model import load_jsonl

ROOT = Path(__file__).resolve().parent.parent
# Spans each traced twin should deliver per invocation: the invocation, UpdateItem, Publish.
SPANS_PER_INVOCATION = {"plain": 0, "ours": 3, "ours_delay": 3, "powertools": 3, "adot": 3, "otel_lite": 3}
_COLLECTED = re.compile(r"==\d+== Collected : (\d+)")


@contextmanager
def trace_sink(out_dir: Path, answer_after_s: float = 0.0) -> Iterator[dict[str, str]]:
    """bench/sink.py in its own process: {"otlp": URL, "xray_daemon": "host:port"}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(ROOT / "bench" / "sink.py"), str(out_dir), str(answer_after_s)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(timeout=10)


class Runner:
    """Starts one twin's fresh process in its environment, for either measure."""

    def __init__(self, base_env: dict[str, str], event_file: Path, scratch: Path) -> None:
        self.base_env = base_env
        self.event_file = event_file
        self.scratch = scratch

    def wall(self, twin: Twin, warm: int) -> dict:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*twin.command, str(warm), str(self.event_file)],
            env={**self.base_env, **self.lambda_env(twin), **twin.env},
            cwd=twin.task,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        cold_ms = None
        result: dict = {}
        for line in process.stdout:
            if line.strip() == "cold-done" and cold_ms is None:
                cold_ms = (time.perf_counter() - started) * 1000
            elif line.startswith('{"warm_ms"'):
                result = json.loads(line)
        stderr = process.stderr.read() if process.stderr else ""
        if process.wait() != 0 or cold_ms is None or not result:
            raise RuntimeError(f"{twin.name} failed:\n{stderr[-2000:]}")
        return {"cold_ms": cold_ms, **result}

    def instructions(self, twin: Twin, warm: int) -> int:
        """Instructions the twin's process(es) execute for one cold + `warm` invocations."""
        processes = twin.callgrind_processes(warm, str(self.event_file))
        lambda_env = self.lambda_env(twin)
        return sum(self.count(command, {**lambda_env, **twin.env, **env}, twin.task) for command, env in processes)

    @staticmethod
    def lambda_env(twin: Twin) -> dict[str, str]:
        """What Lambda sets per function (the X-Ray SDK checks LAMBDA_TASK_ROOT to know it is in Lambda)."""
        return {"LAMBDA_TASK_ROOT": str(twin.task), "OTEL_SERVICE_NAME": f"bench-{twin.name}"}

    def count(self, command: list[str], env: dict[str, str], cwd: Path) -> int:
        """Instructions one process executes under callgrind (hash seed fixed, as nothing else varies)."""
        out = self.scratch / "callgrind.out"
        result = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command],
            env={**self.base_env, **env, "PYTHONHASHSEED": "0"},
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
        counts = _COLLECTED.findall(result.stderr)
        if result.returncode != 0 or len(counts) != 1:
            raise RuntimeError(f"{' '.join(command[-3:])} under callgrind failed:\n{result.stderr[-2000:]}")
        return int(counts[0])


def spans_by_twin(scratch: Path, invocations: dict[str, int]) -> dict[str, dict[str, int]]:
    """Spans each twin should have delivered, and what the sink received from it."""
    received = dict.fromkeys(invocations, 0)
    for otlp in (scratch / "otlp.jsonl", scratch / "udp-otlp.jsonl"):
        for trace in load_jsonl(otlp).values() if otlp.exists() else []:
            for span in trace.spans:
                name = span.service.removeprefix("bench-")
                received[name] = received.get(name, 0) + 1
    xray = scratch / "xray.jsonl"
    for line in xray.read_text().splitlines() if xray.exists() else []:
        received["powertools"] += _segments_in(json.loads(line))
    return {
        name: {"expected": SPANS_PER_INVOCATION[name] * count, "received": received[name]}
        for name, count in invocations.items()
    }


def _segments_in(document: dict) -> int:
    """A segment document and its nested subsegments; Lambda's facade segment is never sent."""
    return 1 + sum(_segments_in(sub) for sub in document.get("subsegments", []))
