"""`python -m bench` (`make bench`): what tracing costs, five twins of one handler side by side.

Every twin does the same work (1 DynamoDB UpdateItem + 1 SNS Publish against one moto server) in
its own Lambda-shaped environment (bench/envs.py), on one interpreter (`--python`, by default this
one; lambda-otel-lite needs 3.12 or newer). Measured in one run:

- instructions (valgrind callgrind, whole process, PYTHONHASHSEED fixed): cold = process start →
  end of the first invocation; warm = (a run with W more invocations minus the cold run) / W.
  Stable to ~0.1 % between runs: the targets are checked on these.
- wall clock: fresh processes, twins interleaved so drift hits all alike; cold timed by the
  parent from spawn to the end of the first invocation, warm invocations timed in the child.
  Reported beside the instructions; on a shared 2-core machine it swings ±20 % between runs.

- the same twins as Lambda runs them (bench/emulated.py): the response latency with a backend
  that answers 80 ms late, and instructions under the runtime client;
- the collector layer's own start-to-ready time and memory per shipped config (bench/collector_cost.py).

Plus peak RSS and spans received against spans expected. Writes bench/results.json and the tables
in docs/benchmark.md and the README (bench/report.py). `--profile` prints where ours spends its
extra instructions instead (bench/profile.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bench import bill, collector_cost, emulated, report
from bench.envs import OTEL_LITE_MINIMUM, Twin, build_twins, otel_lite_possible
from bench.runner import Runner, spans_by_twin, trace_sink
from tracectl.emulation import runtime_and_bundle
from tracectl.emulation.lambda_events import api_gateway_event
from tracectl.emulation.lambda_trace_header import new_trace_header
from tracectl.emulation.local_aws import LocalAws
from tracectl.stats import percentile

ROOT = Path(__file__).resolve().parent.parent
# Ours against plain: (measure, limit, where the limit comes from).
TARGETS: dict[str, tuple[float | None, str]] = {
    "cold_instructions_ratio": (1.20, "the aim"),
    "warm_instructions_ratio": (1.40, "the aim"),
    "cold_instructions_ratio_not_worse": (None, "no worse than before exporting after the response"),
    "warm_instructions_ratio_not_worse": (None, "no worse than before exporting after the response"),
    "delay_cold_instructions_ratio": (1.20, "the aim, under the runtime client, spans kept for a batch"),
    "delay_warm_instructions_ratio": (1.40, "the aim, as above, before the batch's encoding (~0.6 M a span)"),
    "warm_response_added_p50_ms": (1.0, "80 ms backend, under the runtime client"),
    "delay_response_added_p50_ms": (2.0, "TRACING_EXPORT_DELAY_S=5, 512 MB's CPU share, frozen, 80 ms backend"),
    "delay_held_added_p50_ms": (5.0, "TRACING_EXPORT_DELAY_S=5: the environment held (billed) over plain"),
    "outage_held_added_from_6th_ms": (20.0, "backend refused, black-holed or 503, worst p50 over healthy"),
    "peak_rss_added_mib": (5.0, "the aim"),
    "spans_lost": (0, "every run"),
}
# The ratios before spans were exported after the response (commit df29c4b), per runtime Python:
# that commit's twins measured with this command on this machine's kind on 2026-12-01 (plain warm
# 7.10 M, ours 11.87 M instructions on 3.11). Measured again, not copied from older runs: plain's
# count moves with the runtime environment (boto3's version), so only same-day ratios compare.
BEFORE_EXPORT_AFTER_RESPONSE = {"3.11": {"cold": 1.348, "warm": 1.672}}
OUTAGE_INVOCATIONS = 30


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per twin for wall time (default 15)")
    parser.add_argument("--warm", type=int, default=100, help="warm invocations per process (default 100)")
    parser.add_argument("--python", default=sys.executable, help="the runtime's interpreter (default: this one)")
    parser.add_argument("--emulated", type=int, default=300, help="warm invocations per twin under the emulator")
    parser.add_argument("--profile", action="store_true", help="where ours spends its extra instructions")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--no-docs", action="store_true", help="leave docs/benchmark.md and the README alone")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("python -m bench counts instructions with valgrind: sudo apt-get install -y valgrind")
    console = Console()
    console.print("preparing the twins' Lambda-shaped environments (cached after the first run)…")
    if not otel_lite_possible(args.python):
        console.print(f"lambda-otel-lite needs Python {OTEL_LITE_MINIMUM}+: its twin is left out (pass --python)")
    with tempfile.TemporaryDirectory() as tmp, LocalAws() as aws, trace_sink(Path(tmp) / "direct") as sink:
        scratch = Path(tmp)
        twins = build_twins(scratch, args.python)
        event = api_gateway_event("GET", "/bench")
        event_file = scratch / "event.json"
        event_file.write_text(json.dumps(event))
        aws_env = {
            **aws.environment(),
            "TABLE_NAME": aws.resources.table_name,
            # A topic of its own, with no subscribers: the app's topics fan out to tap queues
            # that would grow through the run and slow moto down as it went.
            "TOPIC_ARN": aws.client("sns").create_topic(Name="bench")["TopicArn"],
        }
        base_env = {
            "PATH": os.environ["PATH"],
            "LANG": "C.UTF-8",
            "PYTHONNOUSERSITE": "1",
            # /var/task is read-only in Lambda: no process may leave bytecode for the next.
            "PYTHONDONTWRITEBYTECODE": "1",
            **aws_env,
            "AWS_LAMBDA_FUNCTION_NAME": "bench",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "_X_AMZN_TRACE_ID": "Root=1-5f8a1b2c-0af7651916cd43dd8448eb21;Parent=53995c3f42cd8ad8;Sampled=1",
            "OTEL_EXPORTER_OTLP_ENDPOINT": sink["otlp"],
            "AWS_XRAY_DAEMON_ADDRESS": sink["xray_daemon"],
        }
        runner = Runner(base_env, event_file, scratch)
        if args.profile:
            from bench.profile import profile

            profile(console, runner, twins, args.warm)
            return
        results = measure(console, runner, twins, args)
        results["spans"] = spans_by_twin(scratch / "direct", results["invocations"])
        with trace_sink(scratch / "emulated", emulated.BACKEND_S) as slow:
            results["emulated"] = measure_emulated(console, twins, aws_env, slow, event, scratch, args)
        console.print("the collector layer's own start (each shipped config, fresh starts)…")
        results["collector"] = collector_cost.measure(scratch / "collector")
    results["ours_against_targets"] = against_targets(results)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print_tables(console, results)
    console.print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    if not args.no_docs:
        for written in report.write(results):
            console.print(f"wrote the tables in {written.relative_to(ROOT)}")


def measure_emulated(
    console: Console,
    twins: dict[str, Twin],
    aws_env: dict[str, str],
    sink: dict[str, str],
    event: dict,
    scratch: Path,
    args: argparse.Namespace,
) -> dict:
    """bench/emulated.py's two measures, and the spans its invocations delivered to the slow backend."""
    env = {
        "LANG": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        **aws_env,
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink["otlp"],
        "AWS_XRAY_DAEMON_ADDRESS": sink["xray_daemon"],  # Lambda sets it with Active tracing
    }
    headers = random.Random(0)
    billed = {**twins, "ours_delay": bill.ours_with_delay(twins["ours"])}
    console.print(
        f"under the runtime interface emulator at {emulated.MEMORY_MB} MB's CPU share, frozen between invocations: "
        f"{args.emulated} warm invocations each, backend 80 ms late…"
    )
    response = emulated.response_latency(
        billed, env, event, scratch, args.emulated, lambda: new_trace_header(headers, sampled=True)
    )
    for row in response.values():
        row["cost_per_million_usd"] = bill.cost_per_million(row["warm_environment_held_ms_p50"])
    console.print(f"ours through a backend outage ({', '.join(bill.FAULTS)}), {OUTAGE_INVOCATIONS} invocations each…")
    outages = bill.outages(
        {"ours": twins["ours"], "ours_delay": billed["ours_delay"]}, env, event, scratch, OUTAGE_INVOCATIONS,
        sink["otlp"], lambda: new_trace_header(headers, sampled=True),
    )
    console.print("…and instructions of the runtime process under callgrind (a few minutes)")
    instructions = emulated.instructions(billed, env, event, scratch, args.warm)
    invocations = {name: response[name]["invocations"] for name in billed}
    for name in instructions.keys() - emulated.KEPT_WHEN_COUNTED:
        invocations[name] += 1 + 1 + args.warm
    plain = instructions["plain"]
    for counted in instructions.values():
        counted["cold_ratio"] = round(counted["cold"] / plain["cold"], 3)
        counted["warm_ratio"] = round(counted["warm_per_invocation"] / plain["warm_per_invocation"], 3)
    return {
        "backend_answers_after_ms": emulated.BACKEND_S * 1000,
        "memory_mb": emulated.MEMORY_MB,
        "price": bill.PRICE,
        "response": response,
        "outages": outages,
        "instructions": instructions,
        "invocations": invocations,
        "spans": spans_by_twin(scratch / "emulated", invocations),
    }


def measure(console: Console, runner: Runner, twins: dict[str, Twin], args: argparse.Namespace) -> dict:
    invocations = dict.fromkeys(twins, 0)
    instructions: dict[str, dict[str, float]] = {}
    samples: dict[str, list[dict]] = {name: [] for name in twins}
    with Progress(console=console) as progress:
        task = progress.add_task("callgrind (cold, then cold + warm)", total=2 * len(twins))
        for name, twin in twins.items():
            cold = runner.instructions(twin, 0)
            progress.advance(task)
            both = runner.instructions(twin, args.warm)
            progress.advance(task)
            instructions[name] = {"cold": cold, "warm_per_invocation": (both - cold) / args.warm}
            invocations[name] += 1 + 1 + args.warm
        task = progress.add_task("wall clock, fresh processes interleaved", total=args.runs * len(twins))
        for _ in range(args.runs):
            for name, twin in twins.items():
                samples[name].append(runner.wall(twin, args.warm))
                invocations[name] += 1 + args.warm
                progress.advance(task)
    return summarise(instructions, samples, invocations, args)


def summarise(
    instructions: dict[str, dict[str, float]],
    samples: dict[str, list[dict]],
    invocations: dict[str, int],
    args: argparse.Namespace,
) -> dict:
    twins = {}
    for name, runs in samples.items():
        warm = [t for run in runs for t in run["warm_ms"]]
        twins[name] = {
            "cold_instructions": instructions[name]["cold"],
            "warm_instructions_per_invocation": round(instructions[name]["warm_per_invocation"]),
            "cold_ms_median": round(statistics.median(r["cold_ms"] for r in runs), 1),
            "warm_ms_p50": round(percentile(warm, 50), 3),
            "warm_ms_p99": round(percentile(warm, 99), 3),
            "peak_rss_mib_median": round(statistics.median(r["max_rss_kib"] for r in runs) / 1024, 2),
        }
    plain = twins["plain"]
    for twin in twins.values():
        twin["cold_instructions_ratio"] = round(twin["cold_instructions"] / plain["cold_instructions"], 3)
        twin["warm_instructions_ratio"] = round(
            twin["warm_instructions_per_invocation"] / plain["warm_instructions_per_invocation"], 3
        )
        twin["cold_wall_ratio"] = round(twin["cold_ms_median"] / plain["cold_ms_median"], 3)
        twin["warm_wall_added_p50_ms"] = round(twin["warm_ms_p50"] - plain["warm_ms_p50"], 3)
        twin["peak_rss_added_mib"] = round(twin["peak_rss_mib_median"] - plain["peak_rss_mib_median"], 2)
    return {
        "command": (
            f"python -m bench --runs {args.runs} --warm {args.warm} --emulated {args.emulated} --python {args.python}"
        ),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "runtime_python": runtime_and_bundle.python_version(args.python),
        "twins": twins,
        "invocations": invocations,
    }


def against_targets(results: dict) -> dict[str, dict]:
    ours = results["twins"]["ours"]
    response = results["emulated"]["response"]
    spans = [results["spans"], results["emulated"]["spans"]]

    def held(twin: str) -> float:
        return float(response[twin]["warm_environment_held_ms_p50"])

    measured = {
        "cold_instructions_ratio": ours["cold_instructions_ratio"],
        "warm_instructions_ratio": ours["warm_instructions_ratio"],
        "cold_instructions_ratio_not_worse": ours["cold_instructions_ratio"],
        "warm_instructions_ratio_not_worse": ours["warm_instructions_ratio"],
        "delay_cold_instructions_ratio": results["emulated"]["instructions"]["ours_delay"]["cold_ratio"],
        "delay_warm_instructions_ratio": results["emulated"]["instructions"]["ours_delay"]["warm_ratio"],
        "warm_response_added_p50_ms": response["ours"]["warm_response_added_p50_ms"],
        "delay_response_added_p50_ms": response["ours_delay"]["warm_response_added_p50_ms"],
        "delay_held_added_p50_ms": round(held("ours_delay") - held("plain"), 3),
        "outage_held_added_from_6th_ms": max(
            row["added_p50_ms"] for by_twin in results["emulated"]["outages"].values() for row in by_twin.values()
        ),
        "peak_rss_added_mib": ours["peak_rss_added_mib"],
        "spans_lost": sum(
            run[n]["expected"] - run[n]["received"] for run in spans for n in ("ours", "ours_delay") if n in run
        ),
    }
    before = BEFORE_EXPORT_AFTER_RESPONSE.get(results.get("runtime_python", ""))
    limits = {k: limit for k, (limit, _) in TARGETS.items()}
    limits["cold_instructions_ratio_not_worse"] = before["cold"] if before else None
    limits["warm_instructions_ratio_not_worse"] = before["warm"] if before else None
    return {
        k: {"measured": v, "target": limits[k], "why": TARGETS[k][1], "met": v <= limits[k]}
        for k, v in measured.items()
        if limits[k] is not None  # no same-day baseline for this Python: no row
    }


def print_tables(console: Console, results: dict) -> None:
    for title, header, rows in report.tables(results):
        table = Table(title=title, title_justify="left")
        for number, column in enumerate(header):
            table.add_column(column, justify="left" if number == 0 else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)


if __name__ == "__main__":
    main()
