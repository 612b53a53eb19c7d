"""`tracectl traffic`: drive a deployed API, print each answer's trace id, then optionally compare."""

from __future__ import annotations

import sys

import click

from tracectl.commands.compare import compare_when_arrived, jaeger_options, jaeger_source
from tracectl.commands.output import err, fail


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
