"""Function code without Docker: one CDK asset built by infra/bundle.py on this machine.

`PipBundler` is CDK's local bundling hook: it builds the bundle for the configured runtime and
architecture with pip, so `cdk synth` works on a laptop with no Docker engine, and says in one line
when the bundle ships without bytecode for the runtime (and what that costs).
"""

from __future__ import annotations

import sys
from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from infra import python_runtime
from infra.bundle import LEFT_BEHIND, ROOT, SHIPPED, build_bundle
from infra.config import TracerConfig


def runtime_of(config: TracerConfig) -> lambda_.Runtime:
    """The Lambda runtime every function runs on (see infra/python_runtime.py)."""
    return getattr(lambda_.Runtime, "PYTHON_" + config.python_runtime.replace(".", "_"))


@jsii.implements(ILocalBundling)
class PipBundler:
    """Builds the bundle on the host with pip; never falls back to Docker."""

    def __init__(self, python_version: str, architecture: str) -> None:
        self._python_version = python_version
        self._architecture = architecture

    def try_bundle(self, output_dir: str, *_args: object, **_options: object) -> bool:
        why_not = build_bundle(Path(output_dir), python_version=self._python_version, architecture=self._architecture)
        if why_not is not None:
            print(
                f"bundling: no bytecode for the {python_runtime.identifier(self._python_version)} runtime "
                f"({why_not}), so every cold start compiles every module it imports (more than twice the cold "
                "start instructions, see README): install that Python, or synthesize with the Python you "
                "run on (the runtime follows it unless -c pythonRuntime says otherwise)",
                file=sys.stderr,
            )
        return True


def function_code(config: TracerConfig) -> lambda_.Code:
    """The asset every function of the app runs from; handlers are `functions.<name>.handler.handler`."""
    return lambda_.Code.from_asset(
        str(ROOT),
        exclude=[
            "*",
            *(f"!{p}" for p in SHIPPED),
            "!functions/**",
            "!collector/**",
            *LEFT_BEHIND,
            "**/__pycache__",
        ],
        bundling=BundlingOptions(
            image=runtime_of(config).bundling_image,
            local=PipBundler(config.python_runtime, config.architecture),
            command=["false"],  # never used: the local bundler always succeeds or raises
        ),
    )
