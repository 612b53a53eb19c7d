"""`tracectl compare`: one trace as two sources hold it (X-Ray, Jaeger, a local file)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from tracectl.commands.options import hex_id, jaeger_options, jaeger_source, load
from tracectl.commands.output import console, fail

if TYPE_CHECKING:
    from tracectl.traces.compare import Comparison
    from tracectl.traces.jaeger_source import JaegerSource
    from tracectl.traces.trace_model import Trace


def fetch_sources(
    trace_id: str, *, xray: bool, region: str | None, jaeger: JaegerSource | None, local: Path | None
) -> list[tuple[str, Trace | None]]:
    """[(source name, Trace or None)] for each source asked for; SourceError if one cannot be read."""
    from tracectl.traces import xray_source

    found: list[tuple[str, Trace | None]] = []
    if local is not None:
        found.append((f"local {local}", load(local).get(trace_id)))
    if jaeger is not None:
        found.append((f"Jaeger {jaeger.base_url}", jaeger.fetch(trace_id)))
    if xray:
        found.append(("X-Ray", xray_source.fetch(xray_source.xray_client(region=region), [trace_id]).get(trace_id)))
    return found


def print_comparison(comparison: Comparison, left: Trace, right: Trace, as_json: bool) -> None:
    from tracectl.traces.waterfall import waterfall

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
        console.print(f"{mark} {escape(d.span)}: {escape(d.what)}", highlight=False)
    colour = "red" if comparison.unexpected else "green"
    console.print(f"[bold {colour}]verdict: {comparison.verdict}[/] ({comparison.matched} spans matched)")


@click.command()
@click.argument("trace_id")
@click.option("--xray", is_flag=True, help="Read the trace from AWS X-Ray (boto3's region/profile/credentials).")
@click.option("--region", envvar="AWS_REGION", default=None, help="X-Ray region (default: boto3's).")
@jaeger_options
@click.option("--local", type=click.Path(dir_okay=False, path_type=Path), default=None, help="An OTLP JSON lines file.")
@click.option("--json", "as_json", is_flag=True, help="The comparison as JSON.")
def compare(
    trace_id: str,
    xray: bool,
    region: str | None,
    jaeger: str | None,
    jaeger_header: str | None,
    jaeger_stack: str | None,
    local: Path | None,
    as_json: bool,
) -> None:
    """Compare TRACE_ID as two sources hold it.

    Exit 0 when only expected differences remain (each explained), 1 when any is unexpected,
    2 when the sources cannot be read or the trace is missing from one. X-Ray is read with
    boto3's usual settings: against `tracectl stack`, export AWS_ENDPOINT_URL=<its aws_endpoint>.
    """
    from tracectl.traces.compare import compare as compare_traces
    from tracectl.traces.trace_model import SourceError

    source = jaeger_source(jaeger, jaeger_header, jaeger_stack, region)
    if sum((xray, source is not None, local is not None)) != 2:
        fail("compare needs exactly two sources: two of --xray, --jaeger URL (or --jaeger-stack NAME), --local FILE")
    wanted = hex_id(trace_id)
    try:
        sources = fetch_sources(wanted, xray=xray, region=region, jaeger=source, local=local)
    except SourceError as error:
        fail(str(error))
    for name, trace in sources:
        if trace is None:
            fail(f"trace {wanted} not found in {name}")
    (left_name, left), (right_name, right) = sources
    assert left is not None and right is not None  # fail() exits
    comparison = compare_traces(left, right, left_name, right_name)
    print_comparison(comparison, left, right, as_json)
    sys.exit(1 if comparison.unexpected else 0)


#END
