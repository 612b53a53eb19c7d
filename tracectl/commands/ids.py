"""`tracectl id`: one trace id in X-Ray and 32-hex form, with deep links."""

from __future__ import annotations

import json

import click

from tracectl.commands.options import JAEGER_UI, hex_id


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
