"""`python -m bench` (`make bench`): cold start and warm overhead of four twins of one handler.

Each run spawns a fresh process per twin (interleaved, so drift hits all alike); cold start is
timed by the parent from spawn to the end of the first invocation; warm invocations are timed
inside the child. All twins call the same moto server; traced twins flush to a local OTLP/HTTP
receiver (ours, ADOT) or send UDP to an X-Ray daemon address (Powertools). Writes
bench/results.json and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from tracectl.local_aws import LocalAws
from tracectl.trace_model import load_jsonl

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
ADOT_VENV = WORK / "adot-venv"
TARGETS = {
    "cold_vs_plain": 1.25,
    "cold_vs_powertools": 0.70,
    "cold_vs_adot": 0.50,
    "warm_p50_ms": 1.0,
    "warm_p99_ms": 3.0,
    "rss_mib": 12.0,
}


def adot_python() -> Path:
    """A separate venv for the ADOT distro: it pins an older OTel than this project ships."""
    python = ADOT_VENV / "bin" / "python"
    if not (ADOT_VENV / ".installed").exists():
        subprocess.run([sys.executable, "-m", "venv", str(ADOT_VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "aws-opentelemetry-distro",
                "boto3",
            ],
            check=True,
        )
        (ADOT_VENV / ".installed").touch()
    return python


def twins(adot: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    child = str(ROOT / "bench" / "child.py")
    return {
        "uninstrumented": ([sys.executable, child, "bench.twins.plain"], {}),
        "ours": ([sys.executable, child, "bench.twins.ours"], {"OTEL_PROPAGATORS": "tracecontext,baggage,xray"}),
        "powertools": ([sys.executable, child, "bench.twins.powertools"], {"POWERTOOLS_SERVICE_NAME": "bench"}),
        # As the ADOT Python layer runs a function: opentelemetry-instrument with the AWS distro and
        # configurator, the aws-lambda instrumentation wrapping the handler named by _HANDLER.
        "adot_auto": (
            [str(adot.parent / "opentelemetry-instrument"), str(adot), child, "bench.twins.plain"],
            {
                "OTEL_PYTHON_DISTRO": "aws_distro",
                "OTEL_PYTHON_CONFIGURATOR": "aws_configurator",
                "_HANDLER": "bench.twins.plain.handler",
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_METRICS_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_AWS_APPLICATION_SIGNALS_ENABLED": "false",
            },
        ),
    }


class _Sink:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint


@contextmanager
def otlp_sink(out_file: Path) -> Iterator[_Sink]:
    """The local OTLP endpoint in its own process (bench/sink.py), so it never competes with moto."""
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "sink.py"), str(out_file)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        yield _Sink(process.stdout.readline().strip())
    finally:
        process.terminate()
        process.wait(timeout=10)


def spans_in(out_file: Path) -> int:
    """How many spans the sink received."""
    return sum(len(t.spans) for t in load_jsonl(out_file).values()) if out_file.exists() else 0


def run_once(command: list[str], env: dict[str, str], warm: int) -> dict:
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, str(warm)], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
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
        raise RuntimeError(f"{command[-1]} failed:\n{stderr[-2000:]}")
    return {"cold_ms": cold_ms, **result}


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per twin (default 15)")
    parser.add_argument("--warm", type=int, default=50, help="warm invocations per process (default 50)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args()
    console = Console()
    console.print("preparing the ADOT twin's venv (first run only)…")
    variants = twins(adot_python())
    samples: dict[str, list[dict]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as tmp, LocalAws() as aws, otlp_sink(Path(tmp) / "spans.jsonl") as sink:
        base_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AWS_"))},
            **aws.environment(),
            "PYTHONPATH": str(ROOT),
            "AWS_LAMBDA_FUNCTION_NAME": "bench",
            "LAMBDA_TASK_ROOT": str(ROOT),
            "_X_AMZN_TRACE_ID": "Root=1-5f8a1b2c-0af7651916cd43dd8448eb21;Parent=53995c3f42cd8ad8;Sampled=1",
            "OTEL_SERVICE_NAME": "bench",
            "OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint,
            "TABLE_NAME": aws.resources.table_name,
            # A topic of its own, with no subscribers: the app's topics fan out to tap queues
            # that would grow through the run and slow moto down as it went.
            "TOPIC_ARN": aws.client("sns").create_topic(Name="bench")["TopicArn"],
        }
        with Progress(console=console) as progress:
            task = progress.add_task("fresh processes", total=args.runs * len(variants))
            for _ in range(args.runs):
                for name, (command, env) in variants.items():
                    samples[name].append(run_once(command, {**base_env, **env}, args.warm))
                    progress.advance(task)
        spans_received = spans_in(Path(tmp) / "spans.jsonl")
    results = summarise(samples, args)
    results["spans_received_by_local_otlp"] = spans_received
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(console, results)
    console.print(f"wrote {args.out}")


def summarise(samples: dict[str, list[dict]], args: argparse.Namespace) -> dict:
    per_variant = {}
    for name, runs in samples.items():
        warm = [t for run in runs for t in run["warm_ms"]]
        per_variant[name] = {
            "cold_ms_median": statistics.median(r["cold_ms"] for r in runs),
            "warm_ms_p50": percentile(warm, 50),
            "warm_ms_p99": percentile(warm, 99),
            "max_rss_mib_median": statistics.median(r["max_rss_kib"] for r in runs) / 1024,
        }
    plain, ours = per_variant["uninstrumented"], per_variant["ours"]
    measured = {
        "cold_vs_plain": ours["cold_ms_median"] / plain["cold_ms_median"],
        "cold_vs_powertools": ours["cold_ms_median"] / per_variant["powertools"]["cold_ms_median"],
        "cold_vs_adot": ours["cold_ms_median"] / per_variant["adot_auto"]["cold_ms_median"],
        "warm_p50_ms": ours["warm_ms_p50"] - plain["warm_ms_p50"],
        "warm_p99_ms": ours["warm_ms_p99"] - plain["warm_ms_p99"],
        "rss_mib": ours["max_rss_mib_median"] - plain["max_rss_mib_median"],
    }
    return {
        "command": f"python -m bench --runs {args.runs} --warm {args.warm}",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "variants": per_variant,
        "ours_against_targets": {
            k: {"measured": round(v, 3), "target": TARGETS[k], "met": v <= TARGETS[k]} for k, v in measured.items()
        },
    }


def print_table(console: Console, results: dict) -> None:
    table = Table(title="Cold start and warm overhead (medians over fresh processes)")
    for column in ("twin", "cold ms", "warm p50 ms", "warm p99 ms", "peak RSS MiB"):
        table.add_column(column, justify="right" if column != "twin" else "left")
    for name, v in results["variants"].items():
        table.add_row(
            name,
            f"{v['cold_ms_median']:.0f}",
            f"{v['warm_ms_p50']:.2f}",
            f"{v['warm_ms_p99']:.2f}",
            f"{v['max_rss_mib_median']:.1f}",
        )
    console.print(table)
    targets = Table(title="ours against the targets")
    for column in ("measure", "measured", "target", "met"):
        targets.add_column(column)
    for name, t in results["ours_against_targets"].items():
        targets.add_row(name, f"{t['measured']:.3f}", f"≤ {t['target']}", "yes" if t["met"] else "NO")
    console.print(targets)


if __name__ == "__main__":
    main()
