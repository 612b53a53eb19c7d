"""`tracectl jaeger`: the Jaeger that -c deployJaeger=true deployed, without copying its URLs by hand."""

from __future__ import annotations

import json

import click

from tracectl.commands.output import err, fail

_STACK = click.option(
    "--jaeger-stack",
    envvar="TRACECTL_JAEGER_STACK",
    default="OtelTracerJaeger",
    show_default=True,
    help="The Jaeger stack's name.",
)
_REGION = click.option("--region", envvar="AWS_REGION", default=None, help="Its region (default: boto3's).")


@click.group()
def jaeger() -> None:
    """The deployed Jaeger (-c deployJaeger=true): its UI and its endpoints."""


@jaeger.command()
@_STACK
@_REGION
@click.option("--port", default=16686, show_default=True, type=click.IntRange(0, 65535), help="Local port (0: any).")
@click.option(
    "--idle-minutes", default=60, show_default=True, type=click.IntRange(1, 24 * 60), help="Stop after this long idle."
)
def ui(jaeger_stack: str, region: str | None, port: int, idle_minutes: int) -> None:
    """Open the deployed Jaeger's UI at http://127.0.0.1:PORT.

    Its UI takes IAM only; a browser cannot sign, so this serves it on 127.0.0.1 and signs every
    request (SigV4, execute-api) with your AWS credentials (boto3's usual settings). Whoever may
    call execute-api:Invoke on the Jaeger stack's API can read traces; nobody else. Stops on
    Ctrl-C or after --idle-minutes without a request.
    """
    from tracectl.aws import deployed_jaeger
    from tracectl.traces.trace_model import SourceError

    try:
        deployed = deployed_jaeger.from_stack(jaeger_stack, region)
        sign = deployed_jaeger.sigv4_signer(deployed.region)
        proxy = deployed_jaeger.UiProxy(deployed.url, sign, port=port, idle_s=idle_minutes * 60)
    except SourceError as error:
        fail(str(error))
    except OSError as error:
        fail(f"cannot listen on 127.0.0.1:{port}: {error.strerror} (pick another --port)")
    err.print(f"Jaeger UI: {proxy.url}  (signing for {deployed.url}; Ctrl-C to stop)", highlight=False)
    try:
        proxy.serve()
    except KeyboardInterrupt:
        pass


@jaeger.command()
@_STACK
@_REGION
def endpoints(jaeger_stack: str, region: str | None) -> None:
    """One JSON line: the UI/query URL, the OTLP endpoint and the ingest secret's name."""
    from tracectl.aws import deployed_jaeger
    from tracectl.traces.trace_model import SourceError

    try:
        deployed = deployed_jaeger.from_stack(jaeger_stack, region)
    except SourceError as error:
        fail(str(error))
    click.echo(
        json.dumps(
            {
                "stack": deployed.stack,
                "region": deployed.region,
                "query": deployed.url,
                "otlp_http": deployed.url,
                "ingest_secret": deployed.ingest_secret,
            }
        )
    )
