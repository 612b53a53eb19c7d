"""`tracectl`: run the traced app locally, read its traces. Each command family lives in tracectl/commands/.

Errors go to stderr with exit code 2 (usage or environment) or 1 (the check failed).
"""

from __future__ import annotations

import click

from tracectl.commands.compare import compare
from tracectl.commands.demo import demo
from tracectl.commands.ids import trace_id_command
from tracectl.commands.jaeger import jaeger
from tracectl.commands.stack import stack
from tracectl.commands.traces import traces
from tracectl.commands.traffic import traffic
from tracectl.commands.view import view


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Run, inspect and compare the traced serverless app.

    \b
    tracectl demo                 the whole app locally: no AWS account, no Docker
    tracectl demo --stack         the same through the real collector, Jaeger and X-Ray (make tools)
    tracectl stack --exporter both      the real pipeline alone, in the foreground
    tracectl traces list          the traces the last demo wrote
    tracectl traces show ID       one trace as a waterfall (--json for machines)
    tracectl view                 the traces in a browser, as X-Ray and Jaeger show them, side by side
    tracectl id ID                X-Ray id <-> 32 hex, with console and Jaeger links
    tracectl compare ID --xray --jaeger URL    one trace in two backends, side by side
    tracectl traffic --url URL -n 20 --compare  drive a deployed API, then compare
    tracectl jaeger ui            the deployed Jaeger's UI (-c deployJaeger=true), signed for you
    """


for command in (demo, stack, traces, view, trace_id_command, compare, traffic, jaeger):
    main.add_command(command)


if __name__ == "__main__":
    main()
