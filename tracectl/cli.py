"""`tracectl`: run the traced app locally, read its traces.

Errors go to stderr with exit code 2 (usage or environment) or 1 (the check failed).
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import click
from rich.console import Console
from rich.table import Table

DEFAULT_OUT = Path(".tracectl/traces.jsonl")
DEFAULT_MAP = Path(".tracectl/service-map.svg")
JAEGER_OTLP = "http://127.0.0.1:4318"
JAEGER_UI = "http://127.0.0.1:16686"

# Wide enough for a waterfall when output is not a terminal (CI logs, files, pipes).
console = Console() if sys.stdout.isatty() else Console(width=150)
err = Console(stderr=True, soft_wrap=True)  # an error stays one line, whatever the width


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Run, inspect and compare the traced serverless app.

    \b
    tracectl demo                 the whole app locally: no AWS account, no Docker
    tracectl traces list          the traces the last demo wrote
    tracectl traces show ID       one trace as a waterfall (--json for machines)
    tracectl id ID                X-Ray id <-> 32 hex, with console and Jaeger links
    tracectl compare ID --xray --jaeger URL    one trace in two backends, side by side
    tracectl traffic --url URL -n 20 --compare  drive a deployed API, then compare
    """


@main.command()
@click.option(
    "--requests",
    "-n",
    "requests_",
    default=10,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="API requests to send.",
)
@click.option(
    "--exporter",
    type=click.Choice(["local", "jaeger"]),
    default="local",
    show_default=True,
    help="local: an embedded OTLP receiver writes --out. jaeger: also send to docker compose's Jaeger.",
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
    help="Service map picture (.svg or .png).",
)
@click.option(
    "--fault-rate",
    default=0.2,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="How often the http function fails on purpose.",
)
@click.option("--seed", type=int, default=None, help="Make request ids and faults repeatable.")
@click.option("--jaeger-otlp", default=JAEGER_OTLP, show_default=True, help="Jaeger's OTLP/HTTP endpoint.")
@click.option("--jaeger-ui", default=JAEGER_UI, show_default=True, help="Jaeger UI, for links.")
def demo(
    requests_: int,
    exporter: str,
    out: Path,
    map_file: Path,
    fault_rate: float,
    seed: int | None,
    jaeger_otlp: str,
    jaeger_ui: str,
) -> None:
    """Run the whole app locally and show what X-Ray or Jaeger would.

    Starts an embedded AWS emulator (moto server on 127.0.0.1) with the app's topics, queues and
    table; runs each function in its own worker process; sends --requests API requests; delivers
    SNS and SQS events in AWS's shapes until every queue is quiet; then prints a summary, the
    waterfall of one trace and of one faulted trace, and the service map.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from infra import topology
    from tracectl import service_map
    from tracectl.local_run import LocalRun, WorkerError
    from tracectl.otlp_receiver import OtlpReceiver
    from tracectl.trace_model import load_jsonl
    from tracectl.waterfall import waterfall

    if exporter == "jaeger" and not _listening(jaeger_otlp):
        fail(f"nothing listens at {jaeger_otlp} (Jaeger's OTLP endpoint); start it with: docker compose up -d")
    started = time.monotonic()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("")
    forward = jaeger_otlp if exporter == "jaeger" else None
    with OtlpReceiver(out, forward_to=forward) as sink:
        console.print(f"starting the local AWS emulator and {len(topology.FUNCTIONS)} function workers…")
        try:
            with LocalRun(otlp_endpoint=sink.endpoint, work_dir=out.parent, fault_rate=fault_rate, seed=seed) as run:
                with Progress(
                    TextColumn("{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    console=console,
                    transient=False,
                ) as progress:
                    task = progress.add_task("requests", total=requests_)
                    for i in range(requests_):
                        run.request(f"/demo/{i % 3}")
                        progress.advance(task)
                    deliver = progress.add_task("delivering SNS/SQS events", total=None)
                    run.pump(on_invocation=lambda: progress.advance(deliver))
                    progress.update(deliver, total=1, completed=1)
                stats, dead = run.stats, run.dead_letters()
        except WorkerError as error:
            fail(f"{error}; logs are in {out.parent / 'logs'}")
        forward_failures = sink.forward_failures
    traces = load_jsonl(out)
    edges = service_map.edges(traces)
    service_map.draw(edges, map_file)
    _summary(requests_, traces, stats, dead, time.monotonic() - started)
    ok = next((t for t in traces.values() if not t.has_error), None)
    faulted = next((t for t in traces.values() if t.has_error), None)
    if ok:
        console.print(waterfall(ok, title=f"a request: trace {ok.trace_id}"))
    if faulted:
        console.print(waterfall(faulted, title=f"a faulted request: trace {faulted.trace_id}"))
    console.print(service_map.table(edges))
    console.print(f"trace file: {out}    service map picture: {map_file}    function logs: {out.parent / 'logs'}")
    if exporter == "jaeger":
        if forward_failures:
            err.print(f"[yellow]warning:[/] {forward_failures} export(s) to Jaeger failed")
        for trace_id in list(traces)[:3]:
            console.print(f"Jaeger: {jaeger_ui.rstrip('/')}/trace/{trace_id}")


def _summary(requests_: int, traces: dict, stats, dead: dict[str, int], seconds: float) -> None:
    table = Table(title="summary", title_justify="left", show_header=False)
    spans = sum(len(t.spans) for t in traces.values())
    statuses = Counter(str(r.get("statusCode")) for r in stats.responses)
    table.add_row(
        "requests", f"{requests_} (API answers: {', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))})"
    )
    table.add_row("traces", str(len(traces)))
    table.add_row("spans", str(spans))
    table.add_row("traces with errors", str(sum(t.has_error for t in traces.values())))
    table.add_row("invocations", ", ".join(f"{k} {v}" for k, v in sorted(stats.invocations.items())))
    table.add_row("function errors", ", ".join(f"{k} {v}" for k, v in sorted(stats.function_errors.items())) or "0")
    table.add_row("dead-letter queues", ", ".join(f"{k} {v}" for k, v in dead.items()))
    table.add_row("took", f"{seconds:.1f} s")
    console.print(table)


def _listening(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 4318), timeout=1.0):
            return True
    except OSError:
        return False


trace_file_option = click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="OTLP JSON lines to read (what `tracectl demo --out` wrote).",
)


@main.group()
def traces() -> None:
    """Read the traces a demo wrote (OTLP JSON lines)."""


def _load(file: Path) -> dict:
    from tracectl.trace_model import load_jsonl

    if not file.exists():
        fail(f"{file} does not exist: run `tracectl demo` first, or pass --file")
    try:
        return load_jsonl(file)
    except ValueError as error:
        fail(str(error))
    raise AssertionError("unreachable")


@traces.command("list")
@trace_file_option
@click.option("--xray", is_flag=True, help="List what X-Ray recorded instead (GetTraceSummaries).")
@click.option(
    "--minutes",
    default=15,
    show_default=True,
    type=click.IntRange(1, 24 * 60),
    help="With --xray: how far back to look.",
)
@click.option("--filter", "filter_expression", default=None, help="With --xray: an X-Ray filter expression.")
@click.option("--region", envvar="AWS_REGION", default=None, help="With --xray: the region (default: boto3's).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per trace.")
def list_traces(
    file: Path, xray: bool, minutes: int, filter_expression: str | None, region: str | None, as_json: bool
) -> None:
    """One line per trace: id, root span, spans, services, duration, errors."""
    if xray:
        _list_xray(minutes, filter_expression, region, as_json)
        return
    loaded = _load(file)
    if as_json:
        for t in loaded.values():
            click.echo(
                json.dumps(
                    {
                        "trace_id": t.trace_id,
                        "root": t.roots()[0].name,
                        "spans": len(t.spans),
                        "services": t.services,
                        "duration_ms": round(t.duration_ms, 3),
                        "error": t.has_error,
                    }
                )
            )
        return
    table = Table()
    for column in ("trace id", "root", "spans", "services", "ms", "error"):
        table.add_column(column)
    for t in loaded.values():
        table.add_row(
            t.trace_id,
            t.roots()[0].name,
            str(len(t.spans)),
            str(len(t.services)),
            f"{t.duration_ms:.0f}",
            "yes" if t.has_error else "",
        )
    console.print(table)


def _list_xray(minutes: int, filter_expression: str | None, region: str | None, as_json: bool) -> None:
    from datetime import UTC, datetime, timedelta

    from tracectl import xray_source
    from tracectl.trace_model import SourceError

    end = datetime.now(UTC)
    try:
        found = xray_source.summaries(
            _xray_client(region), end - timedelta(minutes=minutes), end, filter_expression=filter_expression
        )
    except SourceError as error:
        fail(str(error))
    for summary in found:
        if as_json:
            click.echo(
                json.dumps({"trace_id": summary.trace_id, "duration_s": summary.duration_s, "error": summary.error})
            )
        else:
            click.echo(f"{summary.trace_id}  {summary.duration_s:8.3f} s  {'error' if summary.error else ''}")


def _xray_client(region: str | None):
    import boto3

    return boto3.client("xray", region_name=region) if region else boto3.client("xray")


@traces.command("show")
@click.argument("trace_id")
@trace_file_option
@click.option("--json", "as_json", is_flag=True, help="The normalised trace as JSON.")
def show_trace(trace_id: str, file: Path, as_json: bool) -> None:
    """Show TRACE_ID (32 hex, X-Ray `1-…-…`, or a unique prefix) as a waterfall."""
    from tracectl.waterfall import waterfall

    wanted = _hex_id(trace_id) if trace_id.startswith("1-") else trace_id.lower()
    loaded = _load(file)
    matches = [t for tid, t in loaded.items() if tid.startswith(wanted)]
    if len(matches) != 1:
        fail(f"{'no' if not matches else 'more than one'} trace matches {trace_id} in {file}", code=1)
    if as_json:
        click.echo(json.dumps(matches[0].to_json(), indent=2))
    else:
        console.print(waterfall(matches[0]))


def _hex_id(trace_id: str) -> str:
    """32 hex digits for an X-Ray or hex trace id; exits 2 with the reason if it is neither."""
    from functions.tracing.ids import from_xray_id, to_xray_id

    try:
        return from_xray_id(trace_id) if trace_id.strip().startswith("1-") else from_xray_id(to_xray_id(trace_id))
    except ValueError as error:
        fail(f"{error}: use 32 hex digits or an X-Ray id like 1-5f8a1b2c-0af7651916cd43dd8448eb21")
    raise AssertionError("unreachable")


def _links(hex_id: str, region: str, jaeger_ui: str) -> dict[str, str]:
    from functions.tracing.ids import to_xray_id

    xray_id = to_xray_id(hex_id)
    return {
        "trace_id": hex_id,
        "xray_trace_id": xray_id,
        "xray_console": f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#xray:traces/{xray_id}",
        "jaeger_ui": f"{jaeger_ui.rstrip('/')}/trace/{hex_id}",
    }


@main.command("id")
@click.argument("trace_id")
@click.option("--region", envvar="AWS_REGION", default="us-east-1", show_default=True, help="For the X-Ray link.")
@click.option("--jaeger-ui", envvar="TRACECTL_JAEGER_UI", default=JAEGER_UI, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def trace_id_command(trace_id: str, region: str, jaeger_ui: str, as_json: bool) -> None:
    """Convert TRACE_ID between X-Ray (1-xxxxxxxx-yyyy…) and 32-hex form; print deep links."""
    links = _links(_hex_id(trace_id), region, jaeger_ui)
    if as_json:
        click.echo(json.dumps(links))
    else:
        for key, value in links.items():
            click.echo(f"{key:14} {value}")


def _fetch_sources(
    hex_id: str, *, xray: bool, region: str | None, jaeger: str | None, jaeger_header: str | None, local: Path | None
) -> list[tuple[str, object]]:
    """[(source name, Trace or None)] for each source asked for; SourceError if one cannot be read."""
    from tracectl import jaeger_source, xray_source

    found: list[tuple[str, object]] = []
    if local is not None:
        found.append((f"local {local}", _load(local).get(hex_id)))
    if jaeger is not None:
        headers = {}
        if jaeger_header:
            name, separator, value = jaeger_header.partition(":")
            if not separator or not name.strip():
                fail(f"--jaeger-header {jaeger_header!r} is not 'Name: value'")
            headers[name.strip()] = value.strip()
        found.append((f"Jaeger {jaeger}", jaeger_source.JaegerSource(jaeger, headers=headers).fetch(hex_id)))
    if xray:
        found.append(("X-Ray", xray_source.fetch(_xray_client(region), [hex_id]).get(hex_id)))
    return found


def _print_comparison(comparison, left, right, as_json: bool) -> None:
    from tracectl.waterfall import waterfall

    if as_json:
        click.echo(json.dumps(comparison.to_json()))
        return
    counts = Table(title=f"spans per service: {comparison.left} | {comparison.right}", title_justify="left")
    for column in ("service", comparison.left, comparison.right):
        counts.add_column(column)
    for service, (x, y) in comparison.services.items():
        counts.add_row(service, str(x), str(y), style="yellow" if x != y else None)
    console.print(counts)
    console.print(waterfall(left, title=f"{comparison.left}"))
    console.print(waterfall(right, title=f"{comparison.right}"))
    for d in comparison.differences:
        mark = "[green]expected[/]  " if d.expected else "[bold red]UNEXPECTED[/]"
        console.print(f"{mark} {d.span}: {d.what}", highlight=False)
    colour = "red" if comparison.unexpected else "green"
    console.print(f"[bold {colour}]verdict: {comparison.verdict}[/] ({comparison.matched} spans matched)")


@main.command()
@click.argument("trace_id")
@click.option("--xray", is_flag=True, help="Read the trace from AWS X-Ray (boto3's region/profile/credentials).")
@click.option("--region", envvar="AWS_REGION", default=None, help="X-Ray region (default: boto3's).")
@click.option(
    "--jaeger", envvar="TRACECTL_JAEGER_URL", default=None, help="Jaeger query base URL, e.g. http://127.0.0.1:16686."
)
@click.option("--jaeger-header", envvar="TRACECTL_JAEGER_HEADER", default=None, help="'Name: value' sent to Jaeger.")
@click.option("--local", type=click.Path(dir_okay=False, path_type=Path), default=None, help="An OTLP JSON lines file.")
@click.option("--json", "as_json", is_flag=True, help="The comparison as JSON.")
def compare(
    trace_id: str,
    xray: bool,
    region: str | None,
    jaeger: str | None,
    jaeger_header: str | None,
    local: Path | None,
    as_json: bool,
) -> None:
    """Compare TRACE_ID as two sources hold it.

    Exit 0 when only expected differences remain (each explained), 1 when any is unexpected,
    2 when the sources cannot be read or the trace is missing from one.
    """
    from tracectl.compare import compare as compare_traces
    from tracectl.trace_model import SourceError

    if sum((xray, jaeger is not None, local is not None)) != 2:
        fail("compare needs exactly two sources: two of --xray, --jaeger URL, --local FILE")
    hex_id = _hex_id(trace_id)
    try:
        sources = _fetch_sources(
            hex_id, xray=xray, region=region, jaeger=jaeger, jaeger_header=jaeger_header, local=local
        )
    except SourceError as error:
        fail(str(error))
    for name, trace in sources:
        if trace is None:
            fail(f"trace {hex_id} not found in {name}")
    (left_name, left), (right_name, right) = sources
    comparison = compare_traces(left, right, left_name, right_name)
    _print_comparison(comparison, left, right, as_json)
    sys.exit(1 if comparison.unexpected else 0)


@main.command()
@click.option("--url", required=True, help="The deployed API's URL (the stack's ApiUrl output).")
@click.option("-n", "requests_", default=20, show_default=True, type=click.IntRange(1, 10000))
@click.option("--concurrency", "-c", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--compare", "then_compare", is_flag=True, help="Then compare each trace in X-Ray and Jaeger.")
@click.option("--jaeger", envvar="TRACECTL_JAEGER_URL", default=None, help="Jaeger query base URL (with --compare).")
@click.option("--jaeger-header", envvar="TRACECTL_JAEGER_HEADER", default=None)
@click.option("--region", envvar="AWS_REGION", default=None)
@click.option(
    "--wait",
    default=120,
    show_default=True,
    type=click.IntRange(1, 1800),
    help="Seconds to wait for traces to arrive (with --compare).",
)
def traffic(
    url: str,
    requests_: int,
    concurrency: int,
    then_compare: bool,
    jaeger: str | None,
    jaeger_header: str | None,
    region: str | None,
    wait: int,
) -> None:
    """Send -n requests to a deployed API and print the trace id each answer carries."""
    from rich.progress import Progress

    from tracectl.traffic import drive

    if then_compare and jaeger is None:
        fail("--compare needs --jaeger URL (or TRACECTL_JAEGER_URL) besides X-Ray")
    with Progress(console=err) as progress:
        task = progress.add_task("requests", total=requests_)
        result = drive(url, requests=requests_, concurrency=concurrency, on_done=lambda: progress.advance(task))
    for trace_id in result.trace_ids:
        click.echo(trace_id)
    err.print(
        f"sent {result.sent}, errors {result.errors}, statuses "
        + ", ".join(f"{k}: {v}" for k, v in sorted(result.statuses.items())),
        highlight=False,
    )
    if then_compare:
        sys.exit(_compare_when_arrived(result.trace_ids, jaeger, jaeger_header, region, wait))
    sys.exit(1 if result.errors else 0)


def _compare_when_arrived(
    trace_ids: list[str], jaeger: str | None, jaeger_header: str | None, region: str | None, wait: int
) -> int:
    from tracectl.compare import compare as compare_traces
    from tracectl.trace_model import SourceError

    deadline = time.monotonic() + wait
    pending, worst = list(trace_ids), 0
    while pending and time.monotonic() < deadline:
        for trace_id in list(pending):
            try:
                sources = _fetch_sources(
                    trace_id, xray=True, region=region, jaeger=jaeger, jaeger_header=jaeger_header, local=None
                )
            except SourceError as error:
                fail(str(error))
            if all(trace is not None for _, trace in sources):
                (left_name, left), (right_name, right) = sources
                comparison = compare_traces(left, right, left_name, right_name)
                console.print(f"{trace_id}: {comparison.verdict}")
                for d in comparison.unexpected:
                    console.print(f"  UNEXPECTED {d.span}: {d.what}", highlight=False)
                worst = max(worst, 1 if comparison.unexpected else 0)
                pending.remove(trace_id)
        if pending:
            time.sleep(5)
    for trace_id in pending:
        err.print(f"{trace_id}: not in both backends after {wait} s")
    return 2 if pending else worst


if __name__ == "__main__":
    main()
