"""`tracectl id`: one trace id in X-Ray and 32-hex form, with deep links."""

from __future__ import annotations

import json

import click

from tracectl.commands.output import fail

JAEGER_UI = "http://127.0.0.1:16686"


def hex_id(trace_id: str) -> str:
    """32 hex digits for an X-Ray or hex trace id; exits 2 with the reason if it is neither."""
    from functions.tracing import from_xray_id, to_xray_id

    try:
        return from_xray_id(trace_id) if trace_id.strip().startswith("1-") else from_xray_id(to_xray_id(trace_id))
    except ValueError as error:
        fail(f"{error}: use 32 hex digits or an X-Ray id like 1-5f8a1b2c-0af7651916cd43dd8448eb21")


def links(trace_id: str, region: str, jaeger_ui: str) -> dict[str, str]:
    from functions.tracing import to_xray_id

    xray_id = to_xray_id(trace_id)
    return {
        "trace_id": trace_id,
        "xray_trace_id": xray_id,
        "xray_console": f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#xray:traces/{xray_id}",
        "jaeger_ui": f"{jaeger_ui.rstrip('/')}/trace/{trace_id}",
    }


@click.command("id")
@click.argument("trace_id")
@click.option("--region", envvar="AWS_REGION", default="us-east-1", show_default=True, help="For the X-Ray link.")
@click.option("--jaeger-ui", envvar="TRACECTL_JAEGER_UI", default=JAEGER_UI, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def trace_id_command(trace_id: str, region: str, jaeger_ui: str, as_json: bool) -> None:
    """Convert TRACE_ID between X-Ray (1-xxxxxxxx-yyyy…) and 32-hex form; print deep links."""
    found = links(hex_id(trace_id), region, jaeger_ui)
    if as_json:
        click.echo(json.dumps(found))
    else:
        for key, value in found.items():
            click.echo(f"{key:14} {value}")
