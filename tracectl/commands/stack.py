"""`tracectl stack`: the real pipeline in the foreground (collector, Jaeger, X-Ray on the emulator)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from infra.config import EXPORTERS
from tracectl.commands.output import err, fail


@click.command()
@click.option(
    "--exporter",
    type=click.Choice(EXPORTERS),
    default="both",
    show_default=True,
    help="Which shipped collector config to run: collector/<exporter>.yaml.",
)
@click.option(
    "--otlp-port",
    default=0,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="The collector's OTLP/HTTP port on 127.0.0.1 (0: a free one).",
)
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".tracectl/stack"),
    show_default=True,
    help="Logs of each part and the generated config overlay.",
)
def stack(exporter: str, otlp_port: int, work_dir: Path) -> None:
    """Run the real pipeline on this machine until Ctrl-C (SIGINT) or SIGTERM.

    \b
    Starts, each on 127.0.0.1 and a free port:
      jaeger          Jaeger v2 (make tools), memory storage: OTLP in, query API out
      moto server     the AWS emulator: the X-Ray API the collector writes to
      otelcol-lambda  the collector built with the ADOT layer's components (make tools),
                      running collector/<exporter>.yaml verbatim plus a generated overlay
                      that changes only local endpoints
    When all answer, prints one JSON line: otlp_http (send spans here), jaeger_query,
    jaeger_otlp, aws_endpoint (X-Ray API), region, collector_config. Then, e.g.:

    \b
      AWS_ENDPOINT_URL=<aws_endpoint> AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_REGION=us-east-1 \\
        tracectl compare ID --xray --jaeger <jaeger_query>
    """
    from tracectl.pipeline.local_pipeline import LocalPipeline, PipelineError, serve

    try:
        with LocalPipeline(exporter, work_dir=work_dir, otlp_port=otlp_port) as running:
            code = serve(running, click.echo)
    except PipelineError as error:
        fail(str(error))
    err.print("stack stopped")
    sys.exit(code)
