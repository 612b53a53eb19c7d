"""`tracectl demo`: the whole app on this machine, through the embedded receiver or the real pipeline."""

from __future__ import annotations

import json
import socket
import sys
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import click
from rich.markup import escape
from rich.table import Table

from infra.config import TracerConfig
from tracectl.commands.options import (
    DEFAULT_OUT,
    DEFAULT_VIEW_PORT,
    JAEGER_UI,
    file_catalog,
    pipeline_catalog,
    serve_view,
)
from tracectl.commands.output import console, err, fail

if TYPE_CHECKING:
    from collections.abc import Callable

    from tracectl.emulation.local_run import LocalRun, RunStats
    from tracectl.traces.pipeline_check import TraceCheck
    from tracectl.traces.trace_model import Trace

DEFAULT_MAP = Path(".tracectl/service-map.svg")
JAEGER_OTLP = "http://127.0.0.1:4318"


def listening(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 4318), timeout=1.0):
            return True
    except OSError:
        return False


@click.command()
@click.option(
    "--requests",
    "-n",
    "requests_",
    default=10,
    show_default=True,
    type=click.IntRange(1, 10000),
    help="API requests to send.",
)
@click.option(
    "--uploads",
    default=2,
    show_default=True,
    type=click.IntRange(0, 1000),
    help="Objects to upload to the uploads bucket (each one trace: uploader → upload → DynamoDB).",
)
@click.option(
    "--to",
    "destination",
    type=click.Choice(["local", "jaeger"]),
    default="local",
    show_default=True,
    help="local: an embedded OTLP receiver writes --out. jaeger: also send to docker compose's Jaeger.",
)
@click.option(
    "--stack",
    is_flag=True,
    help="Export through the real pipeline instead (collector running collector/both.yaml, Jaeger, "
    "X-Ray on the emulator; needs `make tools`), then check every trace in both backends.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Trace file (OTLP JSON lines, the Collector file-exporter format).",
)
@click.option(
    "--map",
    "map_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_MAP,
    show_default=True,
    help="Service map picture (SVG, laid out by Graphviz).",
)
@click.option(
    "--fault-rate",
    default=TracerConfig.fault_rate,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="How often the http function fails on purpose.",
)
@click.option("--seed", type=int, default=None, help="Make request ids and faults repeatable.")
@click.option("--jaeger-otlp", default=JAEGER_OTLP, show_default=True, help="Jaeger's OTLP/HTTP endpoint.")
@click.option("--jaeger-ui", default=JAEGER_UI, show_default=True, help="Jaeger UI, for links.")
@click.option(
    "--view",
    "view_after",
    is_flag=True,
    help="Then open the traces in a browser (`tracectl view`); with --stack, from the pipeline's X-Ray and "
    "Jaeger, kept running until the view stops.",
)
def demo(
    requests_: int,
    uploads: int,
    destination: str,
    stack: bool,
    out: Path,
    map_file: Path,
    fault_rate: float,
    seed: int | None,
    jaeger_otlp: str,
    jaeger_ui: str,
    view_after: bool,
) -> None:
    """Run the whole app locally and show what X-Ray or Jaeger would.

    Starts an embedded AWS emulator (moto server on 127.0.0.1) with the app's topics, queues, bus,
    table and bucket; runs each function as Lambda runs it (AWS's runtime interface emulator and
    runtime client, its memory's share of a core, frozen between invocations, SIGTERM at the end);
    sends --requests API requests and --uploads objects; delivers SNS, SQS, EventBridge, S3 and
    stream events in AWS's shapes until every queue is quiet; then prints a summary, the waterfall
    of one trace and of one faulted trace, and the service map.

    With --stack the functions export to the real collector (as in Lambda), which sends to Jaeger
    and to X-Ray on the emulator; every trace is then read back from both and compared. Exit 1
    if a span was lost or the backends disagree.
    """
    if stack and destination != "local":
        fail("--stack already sends to Jaeger (and X-Ray): leave out --to")
    if map_file.suffix.lower() != ".svg":
        fail(f"--map {map_file}: the service map is drawn as SVG; name the file .svg")
    if destination == "jaeger" and not listening(jaeger_otlp):
        fail(f"nothing listens at {jaeger_otlp} (Jaeger's OTLP endpoint); start it with: docker compose up -d")
    started = time.monotonic()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("")

    def report(stats: RunStats, dead: dict[str, int]) -> None:
        _report(requests_, uploads, out, map_file, stats, dead, time.monotonic() - started)

    if stack:
        sys.exit(_run_through_stack(requests_, uploads, out, fault_rate, seed, report, view_after))
    forwarding = jaeger_otlp if destination == "jaeger" else None
    stats, dead, forward_failures = _run_locally(requests_, uploads, out, fault_rate, seed, forwarding)
    report(stats, dead)
    if destination == "jaeger":
        if forward_failures:
            err.print(f"[yellow]warning:[/] {forward_failures} export(s) to Jaeger failed")
        from tracectl.traces.trace_model import load_jsonl

        for trace_id in list(load_jsonl(out))[:3]:
            console.print(f"Jaeger: {jaeger_ui.rstrip('/')}/trace/{trace_id}")
    if view_after:
        serve_view(*file_catalog(out, jaeger_ui), port=DEFAULT_VIEW_PORT, open_browser=True)
    else:
        console.print(
            "each trace as X-Ray and Jaeger show it, side by side, in a browser: tracectl view"
            + ("" if out == DEFAULT_OUT else f" --trace-file {out}")
            + "  (make view)",
            highlight=False,
        )


def _report(
    requests_: int, uploads: int, out: Path, map_file: Path, stats: RunStats, dead: dict[str, int], seconds: float
) -> None:
    """The summary, one request's and one faulted request's waterfall, the service map (printed and drawn)."""
    from tracectl.traces import service_map
    from tracectl.traces.trace_model import load_jsonl
    from tracectl.traces.waterfall import waterfall

    traces = load_jsonl(out)
    edges = service_map.edges(traces)
    service_map.draw(edges, map_file)
    _summary(requests_, uploads, traces, stats, dead, seconds)
    emitted = [t for t in traces.values() if not all(s.aws_created for s in t.spans)]  # not Lambda's alone
    ok = next((t for t in emitted if not t.has_error), None)
    faulted = next((t for t in emitted if t.has_error), None)
    if ok:
        console.print(waterfall(ok, title=f"a request: trace {ok.trace_id}"))
    if faulted:
        console.print(waterfall(faulted, title=f"a faulted request: trace {faulted.trace_id}"))
    console.print(service_map.table(edges))
    console.print(f"trace file: {out}    service map picture: {map_file}    function logs: {out.parent / 'logs'}")


def _drive(run: LocalRun, requests_: int, uploads: int) -> None:
    """Send the API requests and upload objects, then deliver every event until every queue is quiet."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        run.start_delivering()  # events reach their functions while requests are still being sent, as in AWS
        task = progress.add_task("requests", total=requests_)
        for i in range(requests_):
            run.request(f"/demo/{i % 3}")
            progress.advance(task)
        if uploads:
            uploaded = progress.add_task("uploads", total=uploads)
            for i in range(uploads):
                run.upload(f"demo-{i}.txt", f"upload {i}\n".encode())
                progress.advance(uploaded)
        deliver = progress.add_task("delivering SNS/SQS/EventBridge/S3/stream events", total=None)
        run.pump(on_invocation=lambda: progress.advance(deliver))
        progress.update(deliver, total=1, completed=1)


def _run_locally(
    requests_: int, uploads: int, out: Path, fault_rate: float, seed: int | None, forward: str | None
) -> tuple[RunStats, dict[str, int], int]:
    from infra import topology
    from tracectl.emulation.execution_environment import EmulatorError
    from tracectl.emulation.local_run import LocalRun
    from tracectl.traces.otlp_receiver import OtlpReceiver

    # Sending to Jaeger: the functions run as `-c exporter=jaeger` deploys them; else as the default (xray).
    deploy = "jaeger" if forward else "xray"
    with OtlpReceiver(out, forward_to=forward) as sink:
        console.print(
            f"starting the local AWS emulator and {len(topology.FUNCTIONS)} Lambda execution environments "
            f"(the runtime interface emulator, as -c exporter={deploy} deploys them)…"
        )
        try:
            with LocalRun(
                otlp_endpoint=sink.endpoint, work_dir=out.parent, fault_rate=fault_rate, seed=seed, exporter=deploy
            ) as run:
                _drive(run, requests_, uploads)
                stats, dead = run.stats, run.dead_letters()
        except EmulatorError as error:
            fail(f"{error}; logs are in {out.parent / 'logs'}")
    _append_aws_segments(run, out)  # after the receiver stopped writing
    return stats, dead, sink.forward_failures


def _append_aws_segments(run: LocalRun, out: Path) -> None:
    """The segments API Gateway and Lambda would have written (X-Ray modes), into the trace file, marked as AWS's."""
    from tracectl.emulation.aws_segments import as_trace_file_line

    documents = run.segments.documents() if run.segments is not None else []
    if documents:
        with out.open("a") as f:
            f.write(as_trace_file_line(documents) + "\n")


def _run_through_stack(
    requests_: int,
    uploads: int,
    out: Path,
    fault_rate: float,
    seed: int | None,
    report: Callable[[RunStats, dict[str, int]], None],
    view_after: bool,
) -> int:
    """Functions → real collector (both.yaml) → Jaeger + X-Ray; what the SDK finished is recorded to `out`.
    Reports while the pipeline runs (and serves the view of its backends with `view_after`); the exit code."""
    from tracectl.emulation import span_record
    from tracectl.emulation.execution_environment import EmulatorError
    from tracectl.emulation.local_run import LocalRun
    from tracectl.pipeline.local_pipeline import LocalPipeline, PipelineError, running_pipeline
    from tracectl.traces import pipeline_check
    from tracectl.traces.jaeger_source import JaegerSource
    from tracectl.traces.trace_model import SourceError, load_jsonl
    from tracectl.traces.xray_source import xray_client

    record = out.parent / "sdk-spans"
    span_record.clear(record)
    work_dir = out.parent / "stack"
    endpoints = running_pipeline(work_dir)  # `make stack` in another terminal: send into it, and leave it running
    if endpoints is not None and endpoints.exporter != "both":
        fail(f"`tracectl stack --exporter {endpoints.exporter}` runs in {work_dir}: demo --stack checks both backends")
    with ExitStack() as running:
        if endpoints is None:
            try:
                endpoints = running.enter_context(LocalPipeline("both", work_dir=work_dir)).endpoints
            except PipelineError as error:
                fail(str(error))
            assert endpoints is not None
            console.print(f"real pipeline up: {endpoints.to_json()}", highlight=False, soft_wrap=True)
        else:
            console.print(f"sending to the pipeline `tracectl stack` runs in {work_dir}", highlight=False)
        try:
            with LocalRun(
                otlp_endpoint=endpoints.otlp_http,
                work_dir=out.parent,
                fault_rate=fault_rate,
                seed=seed,
                exporter="both",
                span_record_dir=record,
                xray_endpoint=endpoints.aws_endpoint,
            ) as run:
                _drive(run, requests_, uploads)
                stats, dead = run.stats, run.dead_letters()
        except EmulatorError as error:
            fail(f"{error}; logs are in {out.parent / 'logs'}")
        out.write_text(span_record.read(record))  # once every environment has shut down and flushed
        _append_aws_segments(run, out)
        console.print("reading every trace back from Jaeger and X-Ray…")
        try:
            checks = pipeline_check.check(
                load_jsonl(out),
                jaeger=JaegerSource(endpoints.jaeger_query),
                xray_client=xray_client(emulator=endpoints.aws_endpoint),
            )
        except SourceError as error:
            fail(str(error))
        report(stats, dead)
        code = _report_checks(checks)
        if view_after:  # while the pipeline still runs: its backends are the view's source
            serve_view(*pipeline_catalog(json.loads(endpoints.to_json())), port=DEFAULT_VIEW_PORT, open_browser=True)
    return code


def _report_checks(checks: list[TraceCheck]) -> int:
    table = Table(title="every trace in both backends (X-Ray on the emulator, Jaeger)", title_justify="left")
    for column in ("trace id", "spans", "Jaeger", "X-Ray", "compare X-Ray | Jaeger"):
        table.add_column(column)
    for c in checks:
        verdict = c.comparison.verdict if c.comparison else "not compared"
        table.add_row(
            c.trace_id,
            str(c.sdk_spans),
            str(c.jaeger_spans),
            str(c.xray_spans),
            verdict,
            style=None if c.ok else "red",
        )
    console.print(table)
    for c in checks:
        for d in c.comparison.unexpected if c.comparison else []:
            console.print(f"[bold red]UNEXPECTED[/] {c.trace_id} {escape(d.span)}: {escape(d.what)}", highlight=False)
    failed = [c for c in checks if not c.ok]
    lost = sum(c.lost for c in checks)
    colour = "red" if failed else "green"
    console.print(
        f"[bold {colour}]{len(checks) - len(failed)}/{len(checks)} traces complete and equal in X-Ray and Jaeger; "
        f"{lost} span(s) lost[/]"
    )
    return 1 if failed else 0


def _summary(
    requests_: int, uploads: int, traces: dict[str, Trace], stats: RunStats, dead: dict[str, int], seconds: float
) -> None:
    table = Table(title="summary", title_justify="left", show_header=False)
    spans = sum(len(t.spans) for t in traces.values())
    statuses = Counter(str(r.get("statusCode")) for r in stats.responses)
    table.add_row(
        "requests", f"{requests_} (API answers: {', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))})"
    )
    table.add_row("uploads", str(uploads))
    table.add_row("traces", str(len(traces)))
    table.add_row("spans", str(spans))
    table.add_row("traces with errors", str(sum(t.has_error for t in traces.values())))
    table.add_row("invocations", ", ".join(f"{k} {v}" for k, v in sorted(stats.invocations.items())))
    table.add_row("function errors", ", ".join(f"{k} {v}" for k, v in sorted(stats.function_errors.items())) or "0")
    table.add_row("dead-letter queues", ", ".join(f"{k} {v}" for k, v in dead.items()))
    table.add_row("took", f"{seconds:.1f} s")
    console.print(table)
