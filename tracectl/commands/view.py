"""`tracectl view`: the traces in a browser, each as X-Ray and as Jaeger show it, side by side."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from tracectl.commands.options import (
    DEFAULT_OUT,
    DEFAULT_VIEW_PORT,
    JAEGER_UI,
    LOCAL_PIPELINE,
    file_catalog,
    jaeger_options,
    jaeger_source,
    local_pipeline_catalog,
    serve_view,
)
from tracectl.commands.output import fail

if TYPE_CHECKING:
    from tracectl.view.catalog import Catalog


@click.command()
@click.option(
    "--trace-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="The trace file to show (what `tracectl demo` wrote), when no backend is named.",
)
@click.option(
    "--port", default=DEFAULT_VIEW_PORT, show_default=True, type=click.IntRange(0, 65535), help="Port on 127.0.0.1."
)
@click.option("--no-browser", is_flag=True, help="Print the URL only; do not open a browser.")
@click.option(
    "--stack",
    "stack",
    is_flag=True,
    help="Read the running local pipeline (`make stack`): X-Ray on its emulator and its Jaeger.",
)
@click.option(
    "--stack-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=LOCAL_PIPELINE,
    show_default=True,
    help="With --stack: the pipeline's --work-dir.",
)
@click.option("--xray", is_flag=True, help="Read AWS X-Ray (boto3's region/profile/credentials, AWS_ENDPOINT_URL).")
@click.option("--region", envvar="AWS_REGION", default=None, help="X-Ray region (default: boto3's).")
@jaeger_options
@click.option(
    "--minutes",
    default=60,
    show_default=True,
    type=click.IntRange(1, 24 * 60),
    help="Backends: traces from the last N minutes.",
)
@click.option(
    "--jaeger-ui", default=None, help="Jaeger UI base URL for links (default: --jaeger's, else docker compose's)."
)
def view(
    trace_file: Path,
    port: int,
    no_browser: bool,
    stack: bool,
    stack_dir: Path,
    xray: bool,
    region: str | None,
    jaeger: str | None,
    jaeger_header: str | None,
    jaeger_stack: str | None,
    minutes: int,
    jaeger_ui: str | None,
) -> None:
    """Show traces in a browser: each as X-Ray's console and Jaeger's UI show it, side by side.

    \b
    Sources (one of):
      (default)          the trace file `tracectl demo` wrote: Jaeger's side is its OTel spans,
                         X-Ray's the same spans as the collector's awsxray exporter converts them,
                         with the segments the local run wrote for API Gateway and Lambda
      --stack            the running local pipeline (`make stack`): X-Ray on its emulator, Jaeger
      --xray / --jaeger URL / --jaeger-stack NAME
                         deployed backends, each read as it is (one or both)
    Serves on 127.0.0.1 only; stops on Ctrl-C or after an hour without a request.
    """
    from tracectl.traces.xray_source import xray_client
    from tracectl.view.app import Links
    from tracectl.view.catalog import BackendCatalog

    source = jaeger_source(jaeger, jaeger_header, jaeger_stack, region)
    catalog: Catalog
    if stack:
        if xray or source is not None:
            fail("--stack names both backends already: drop --xray, --jaeger and --jaeger-stack")
        catalog, links = local_pipeline_catalog(stack_dir)
    elif xray or source is not None:
        client = xray_client(region=region) if xray else None
        where = " and ".join(
            part
            for part in (
                f"X-Ray ({client.meta.region_name})" if client is not None else "",
                f"Jaeger at {source.base_url}" if source is not None else "",
            )
            if part
        )
        catalog = BackendCatalog(xray_client=client, jaeger=source, description=where, local=False, minutes=minutes)
        on_aws = client is not None and "amazonaws.com" in client.meta.endpoint_url  # not AWS_ENDPOINT_URL's emulator
        links = Links(
            jaeger_ui=jaeger_ui or (source.base_url if source is not None else None),
            xray_region=client.meta.region_name if client is not None and on_aws else None,
        )
    else:
        catalog, links = file_catalog(trace_file, jaeger_ui or JAEGER_UI)
    serve_view(catalog, links, port=port, open_browser=not no_browser)
