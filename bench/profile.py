"""`python -m bench --profile`: where the `ours` twin spends the instructions the plain twin does not.

Cold: the same process grown one step at a time in ours' Lambda-shaped environment (each step a
fresh process under callgrind, so the difference between two steps is that step's cost, imports
it shares with earlier steps excluded). Warm: the traced handler with its exporter cut short after
each step (bench/profile_child.py). Then `-X importtime`: the modules ours imports that the plain
twin does not, by package (wall time, self; noisy, but it names the modules).
"""

from __future__ import annotations

import collections
import shutil
import subprocess
from dataclasses import replace
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from bench.envs import Twin

if TYPE_CHECKING:
    from bench.runner import Runner

_PLAIN_IMPORTS = "import boto3; boto3.client('dynamodb'); boto3.client('sns')"
# (step, code added to the process): cumulative.
COLD_STEPS = [
    ("the plain twin's imports: boto3, a DynamoDB and an SNS client", _PLAIN_IMPORTS),
    ("+ OpenTelemetry SDK (trace, resources)", "import opentelemetry.sdk.trace, opentelemetry.sdk.resources"),
    ("+ OTLP/HTTP exporter (protobuf messages)", "import opentelemetry.exporter.otlp.proto.http.trace_exporter"),
    (
        "+ botocore, urllib3 instrumentations (wrapt, packaging, semconv)",
        "import opentelemetry.instrumentation.botocore, opentelemetry.instrumentation.urllib3",
    ),
    ("+ functions.tracing (propagators, our code)", "import functions.tracing"),
    ("+ setup(): provider, resource, instrument()", "functions.tracing.setup()"),
]
_NO_INSTRUMENTATIONS = {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "botocore,urllib3"}
# (step, profile_child step, environment)
WARM_STEPS = [
    ("plain handler", "plain", {}),
    ("+ the invocation span, redaction, flush (instrumentations off)", "spans", _NO_INSTRUMENTATIONS),
    ("+ botocore and urllib3 instrumentations (2 AWS calls)", "spans", {}),
    ("+ OTLP protobuf encoding", "encode", {}),
    ("+ HTTP POST to the collector (as deployed)", "full", {}),
]


def profile(console: Console, runner: Runner, twins: dict[str, Twin], warm: int) -> None:
    ours, plain = twins["ours"], twins["plain"]
    python = ours.command[0]
    console.print("counting instructions step by step (callgrind; a few minutes)…")
    cold = Table(title="cold: ours' process grown step by step (instructions)")
    for column in ("step", "total", "step's cost"):
        cold.add_column(column, justify="left" if column == "step" else "right")
    code: list[str] = []
    previous: float | None = None
    for label, added in COLD_STEPS:
        code.append(added)
        total = runner.count([python, "-c", "; ".join(code)], ours.env, ours.task)
        cold.add_row(label, _m(total), _m(total - previous) if previous is not None else "")
        previous = total
    ours_cold, plain_cold = runner.instructions(ours, 0), runner.instructions(plain, 0)
    assert previous is not None
    plain_imports = runner.count([python, "-c", _PLAIN_IMPORTS], plain.env, plain.task)
    cold.add_row(
        "+ the first invocation's extra (spans, first export, its connection)",
        _m(ours_cold),
        _m((ours_cold - previous) - (plain_cold - plain_imports)),
    )
    cold.add_row("the plain twin, whole cold start", _m(plain_cold), "")
    # What a bundle without bytecode for the runtime costs (built where python3.14 was not on PATH):
    # /var/task is read-only, so every cold start compiles every module it imports.
    source_only = ours.task.parent / "task-source-only"
    shutil.copytree(ours.task, source_only, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    command = [python, str(source_only / "bench_child.py"), *ours.command[2:]]
    cold.add_row(
        "ours, whole cold start, bundle without bytecode for the runtime",
        _m(runner.instructions(replace(ours, task=source_only, command=command), 0)),
        "",
    )
    console.print(cold)

    table = Table(title=f"warm: per invocation (over {warm}), exporter cut short after each step")
    for column in ("step", "per invocation", "step's cost"):
        table.add_column(column, justify="left" if column == "step" else "right")
    previous = None
    child = str(ours.task / "bench_profile_child.py")
    for label, step, env in WARM_STEPS:
        command = [python, child, step]
        once = runner.count([*command, "0", str(runner.event_file)], {**ours.env, **env}, ours.task)
        many = runner.count([*command, str(warm), str(runner.event_file)], {**ours.env, **env}, ours.task)
        per = (many - once) / warm
        table.add_row(label, _m(per), _m(per - previous) if previous is not None else "")
        previous = per
    console.print(table)
    _import_time(console, runner, ours, plain)


def _import_time(console: Console, runner: Runner, ours: Twin, plain: Twin) -> None:
    """Self import time (µs) of the modules ours imports beyond plain, summed by package."""

    def modules(twin: Twin, code: str) -> dict[str, int]:
        result = subprocess.run(
            [twin.command[0], "-X", "importtime", "-c", code],
            env={**runner.base_env, **twin.env},
            cwd=twin.task,
            capture_output=True,
            text=True,
            check=True,
        )
        found = {}
        for line in result.stderr.splitlines():
            if line.startswith("import time:") and "self [us]" not in line:
                self_us, _cumulative, name = line.removeprefix("import time:").split("|")
                found[name.strip()] = int(self_us)
        return found

    plain_modules = modules(plain, _PLAIN_IMPORTS)
    ours_modules = modules(ours, "; ".join(code for _, code in COLD_STEPS))
    by_package: collections.Counter[str] = collections.Counter()
    for name, self_us in ours_modules.items():
        if name not in plain_modules:
            parts = name.split(".")
            by_package[".".join(parts[:2]) if parts[0] == "opentelemetry" else parts[0]] += self_us
    table = Table(title="imports ours adds, by package (-X importtime, self, one run: wall time is noisy)")
    table.add_column("package")
    table.add_column("ms", justify="right")
    for package, us in by_package.most_common(15):
        table.add_row(package, f"{us / 1000:.1f}")
    table.add_row("all of them", f"{sum(by_package.values()) / 1000:.1f}")
    console.print(table)


def _m(instructions: float) -> str:
    return f"{instructions / 1e6:+.1f} M" if instructions < 0 else f"{instructions / 1e6:.1f} M"
