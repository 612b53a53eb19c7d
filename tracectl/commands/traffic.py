"""`tracectl traffic`: drive a deployed API, print each answer's trace id, then optionally compare."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from tracectl.commands.options import jaeger_options, jaeger_source
from tracectl.commands.output import console, err, fail

if TYPE_CHECKING:
    from tracectl.traces.jaeger_source import JaegerSource
    from tracectl.traces.trace_model import Trace


@click.command()
@click.option("--url", required=True, help="The deployed API's URL (the stack's ApiUrl output).")
@click.option("-n", "requests_", default=20, show_default=True, type=click.IntRange(1, 10000))
@click.option("--concurrency", "-c", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--compare", "then_compare", is_flag=True, help="Then compare each trace in X-Ray and Jaeger.")
@jaeger_options
@click.option("--region", envvar="AWS_REGION", default=None)
@click.option("--uploads", default=0, show_default=True, type=click.IntRange(0, 1000), help="Objects to upload too.")
@click.option("--bucket", envvar="TRACECTL_UPLOADS_BUCKET", default=None, help="The stack's UploadsBucket output.")
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
    jaeger_stack: str | None,
    region: str | None,
    uploads: int,
    bucket: str | None,
    wait: int,
) -> None:
    """Send -n requests to a deployed API and print the trace id each answer carries.

    With --uploads N --bucket NAME it also puts N objects in the uploads bucket (boto3's usual
    credentials); each becomes a trace of the upload function and its DynamoDB write.
    """
    from rich.progress import Progress

    from tracectl.aws.traffic import drive

    source = jaeger_source(jaeger, jaeger_header, jaeger_stack, region)
    if then_compare and source is None:
        fail("--compare needs --jaeger URL or --jaeger-stack NAME (the Jaeger stack) besides X-Ray")
    if uploads and not bucket:
        fail("--uploads needs --bucket NAME (the stack's UploadsBucket output, or TRACECTL_UPLOADS_BUCKET)")
    with Progress(console=err) as progress:
        task = progress.add_task("requests", total=requests_)
        result = drive(url, requests=requests_, concurrency=concurrency, on_done=lambda: progress.advance(task))
    for trace_id in result.trace_ids:
        click.echo(trace_id)
    if uploads:
        _upload(bucket, uploads, region)
    err.print(
        f"sent {result.sent}, errors {result.errors}, statuses "
        + ", ".join(f"{k}: {v}" for k, v in sorted(result.statuses.items())),
        highlight=False,
    )
    if then_compare:
        assert source is not None
        sys.exit(compare_when_arrived(result.trace_ids, source, region, wait))
    sys.exit(1 if result.errors else 0)


def _upload(bucket: str | None, count: int, region: str | None) -> None:
    import uuid

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    s3 = boto3.client("s3", region_name=region) if region else boto3.client("s3")
    try:
        for i in range(count):
            key = f"traffic/{uuid.uuid4()}-{i}.txt"
            s3.put_object(Bucket=bucket, Key=key, Body=f"traffic upload {i}\n".encode())
            err.print(f"uploaded s3://{bucket}/{key}", highlight=False)
    except (BotoCoreError, ClientError) as error:
        fail(f"upload to {bucket} failed: {error}")


def compare_when_arrived(trace_ids: list[str], jaeger: JaegerSource, region: str | None, wait: int) -> int:
    """Compare each trace in X-Ray and Jaeger once both have it. 0 all clean, 1 a difference, 2 missing."""
    from tracectl.traces import pipeline_check, xray_source
    from tracectl.traces.compare import compare as compare_traces
    from tracectl.traces.trace_model import SourceError

    worst = 0

    def arrived(trace_id: str, in_xray: Trace | None, in_jaeger: Trace | None) -> bool:
        nonlocal worst
        if in_xray is None or in_jaeger is None:
            return False
        comparison = compare_traces(in_xray, in_jaeger, "X-Ray", "Jaeger")
        console.print(f"{trace_id}: {comparison.verdict}")
        for d in comparison.unexpected:
            console.print(f"  UNEXPECTED {escape(d.span)}: {escape(d.what)}", highlight=False)
        worst = max(worst, 1 if comparison.unexpected else 0)
        return True

    try:
        held = pipeline_check.poll(
            trace_ids,
            jaeger=jaeger,
            xray_client=xray_source.xray_client(region=region),
            done=arrived,
            wait_s=wait,
            interval_s=5,
        )
    except SourceError as error:
        fail(str(error))
    missing = [t for t, (in_xray, in_jaeger) in held.items() if in_xray is None or in_jaeger is None]
    for trace_id in missing:
        err.print(f"{trace_id}: not in both backends after {wait} s")
    return 2 if missing else worst
