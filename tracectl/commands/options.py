"""What several commands share: the trace-file, trace-id and Jaeger options, and reading them.

Command modules import from here (and from `output`), never from each other.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tracectl.commands.output import err, fail

if TYPE_CHECKING:
    from tracectl.traces.jaeger_source import JaegerSource
    from tracectl.traces.trace_model import Trace
    from tracectl.view.app import Links
    from tracectl.view.catalog import BackendCatalog, Catalog, TraceFileCatalog

JAEGER_UI = "http://127.0.0.1:16686"
"""docker compose's Jaeger UI: the default for links."""

DEFAULT_OUT = Path(".tracectl/traces.jsonl")
DEFAULT_VIEW_PORT = 8765
LOCAL_PIPELINE = Path(".tracectl/stack")
"""`tracectl stack`'s work directory, where the running pipeline leaves its endpoints."""

trace_file_option = click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="OTLP JSON lines to read (what `tracectl demo --out` wrote).",
)


def load(file: Path) -> dict[str, Trace]:
    """Every trace in an OTLP JSON lines file; exits 2 with the reason if it cannot be read."""
    from tracectl.traces.trace_model import load_jsonl

    if not file.exists():
        fail(f"{file} does not exist: run `tracectl demo` first, or pass --file")
    try:
        return load_jsonl(file)
    except ValueError as error:
        fail(str(error))


def hex_id(trace_id: str) -> str:
    """32 hex digits for an X-Ray or hex trace id; exits 2 with the reason if it is neither."""
    from functions.tracing import from_xray_id, to_xray_id

    try:
        return from_xray_id(trace_id) if trace_id.strip().startswith("1-") else from_xray_id(to_xray_id(trace_id))
    except ValueError as error:
        fail(f"{error}: use 32 hex digits or an X-Ray id like 1-5f8a1b2c-0af7651916cd43dd8448eb21")


def jaeger_options(function: Callable) -> Callable:
    """--jaeger URL [--jaeger-header 'Name: value'] | --jaeger-stack NAME, for every command that reads Jaeger."""
    for option in reversed(
        (
            click.option(
                "--jaeger",
                envvar="TRACECTL_JAEGER_URL",
                default=None,
                help="Jaeger query base URL, e.g. http://127.0.0.1:16686.",
            ),
            click.option(
                "--jaeger-header", envvar="TRACECTL_JAEGER_HEADER", default=None, help="'Name: value' sent to Jaeger."
            ),
            click.option(
                "--jaeger-stack",
                envvar="TRACECTL_JAEGER_STACK",
                default=None,
                help="The Jaeger stack's name (-c deployJaeger=true): its URL from the outputs, requests signed (IAM).",
            ),
        )
    ):
        function = option(function)
    return function


def jaeger_source(
    jaeger: str | None, jaeger_header: str | None, jaeger_stack: str | None, region: str | None
) -> JaegerSource | None:
    """The Jaeger the options name, or None; exits with one line when they are wrong or the stack unreadable."""
    from tracectl.aws import deployed_jaeger
    from tracectl.traces.jaeger_source import JaegerSource
    from tracectl.traces.trace_model import SourceError

    if jaeger_stack is not None:
        if jaeger is not None or jaeger_header is not None:
            fail("--jaeger-stack names the Jaeger (and signs for it): drop --jaeger and --jaeger-header")
        try:
            deployed = deployed_jaeger.from_stack(jaeger_stack, region)
            return JaegerSource(deployed.url, sign=deployed_jaeger.sigv4_signer(deployed.region))
        except SourceError as error:
            fail(str(error))
    if jaeger is None:
        return None
    headers = {}
    if jaeger_header:
        name, separator, value = jaeger_header.partition(":")
        if not separator or not name.strip():
            fail(f"--jaeger-header {jaeger_header!r} is not 'Name: value'")
        headers[name.strip()] = value.strip()
    return JaegerSource(jaeger, headers=headers)


def indexed_attributes() -> list[str]:
    """The attributes collector/xray.yaml makes annotations (the conversion of a trace file's spans needs them)."""
    import yaml

    from tracectl.processes import ROOT

    config = yaml.safe_load((ROOT / "collector" / "xray.yaml").read_text())
    return list(config["exporters"]["awsxray"].get("indexed_attributes") or [])


def local_pipeline_catalog(work_dir: Path) -> tuple[BackendCatalog, Links]:
    """What a running `tracectl stack` holds: X-Ray on its emulator, its Jaeger."""
    from tracectl.pipeline.local_pipeline import ENDPOINTS_FILE

    found = work_dir / ENDPOINTS_FILE
    if not found.exists():
        fail(f"no local pipeline is running ({found} is missing): start `make stack` or `tracectl demo --stack --view`")
    return pipeline_catalog(json.loads(found.read_text()))


def pipeline_catalog(endpoints: dict[str, str]) -> tuple[BackendCatalog, Links]:
    """The local pipeline's backends, from its endpoints (`Endpoints.to_json()`)."""
    from tracectl.traces.jaeger_source import JaegerSource
    from tracectl.traces.xray_source import xray_client
    from tracectl.view.app import Links
    from tracectl.view.catalog import BackendCatalog

    catalog = BackendCatalog(
        xray_client=xray_client(emulator=endpoints["aws_endpoint"]),
        jaeger=JaegerSource(endpoints["jaeger_query"]),
        description=f"the local pipeline: X-Ray on the emulator at {endpoints['aws_endpoint']}, "
        f"Jaeger at {endpoints['jaeger_query']}",
        local=True,
    )
    return catalog, Links(jaeger_ui=endpoints["jaeger_query"], xray_region=None)


def file_catalog(trace_file: Path, jaeger_ui: str) -> tuple[TraceFileCatalog, Links]:
    """A trace file as the view reads it; exits 2 when there is none."""
    from tracectl.view.app import Links
    from tracectl.view.catalog import TraceFileCatalog

    if not trace_file.exists():
        fail(f"{trace_file} does not exist: run `tracectl demo` (make demo) first, or pass --trace-file")
    return TraceFileCatalog(trace_file, indexed_attributes()), Links(jaeger_ui=jaeger_ui, xray_region=None)


def serve_view(catalog: Catalog, links: Links, *, port: int, open_browser: bool) -> None:
    """Serve the view until Ctrl-C or an idle hour; exits 2 with the reason if the port is taken."""
    from tracectl.view.app import create_app
    from tracectl.view.server import serve

    try:
        serve(create_app(catalog, links), port=port, open_browser=open_browser, say=err.print)
    except OSError as error:
        fail(f"cannot serve on 127.0.0.1:{port} ({error.strerror}): pass another --port")
