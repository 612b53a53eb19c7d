"""`tracectl traces list|show`: the traces a demo wrote, or what X-Ray recorded."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
from rich.table import Table

from tracectl.commands.options import load, trace_file_option
from tracectl.commands.output import console, fail


@click.group()
def traces() -> None:
    """Read the traces a demo wrote (OTLP JSON lines)."""


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
    loaded = load(file)
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

    from tracectl.traces import xray_source
    from tracectl.traces.trace_model import SourceError

    end = datetime.now(UTC)
    try:
        client = xray_source.xray_client(region=region)
        start = end - timedelta(minutes=minutes)
        found = xray_source.summaries(client, start, end, filter_expression=filter_expression)
    except SourceError as error:
        fail(str(error))
    for summary in found:
        if as_json:
            click.echo(
                json.dumps({"trace_id": summary.trace_id, "duration_s": summary.duration_s, "error": summary.error})
            )
        else:
            click.echo(f"{summary.trace_id}  {summary.duration_s:8.3f} s  {'error' if summary.error else ''}")


@traces.command("show")
@click.argument("trace_id")
@trace_file_option
@click.option("--json", "as_json", is_flag=True, help="The normalised trace as JSON.")
def show_trace(trace_id: str, file: Path, as_json: bool) -> None:
    """Show TRACE_ID (32 hex, X-Ray `1-…-…`, or a unique prefix) as a waterfall."""
    from tracectl.traces.waterfall import waterfall

    # An X-Ray id is the same 32 hex digits behind `1-` and a dash: any leading part of either works.
    digits = trace_id[2:].replace("-", "") if trace_id.startswith("1-") else trace_id
    if re.fullmatch(r"[0-9a-fA-F]{1,32}", digits):
        wanted = digits.lower()
    else:
        fail(
            f"{trace_id} is not an X-Ray trace id, a 32-hex one, or a leading part of either "
            "(e.g. 1-5f8a1b2c-0af7 or 5f8a1b2c0af7)"
        )
    loaded = load(file)
    matches = [t for tid, t in loaded.items() if tid.startswith(wanted)]
    if len(matches) != 1:
        fail(f"{'no' if not matches else 'more than one'} trace matches {trace_id} in {file}", code=1)
    if as_json:
        click.echo(json.dumps(matches[0].to_json(), indent=2))
    else:
        console.print(waterfall(matches[0]))
