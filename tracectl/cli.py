"""`tracectl` command line."""

from __future__ import annotations

import click


@click.group()
def main() -> None:
    """Run, inspect and compare the traced serverless app."""


@main.command()
def demo() -> None:
    """Run the whole app locally (not built yet: see the local-run issue)."""
    click.echo("tracectl demo: the local run is not built yet; `make test` exercises the deploy-time side.")


if __name__ == "__main__":
    main()
