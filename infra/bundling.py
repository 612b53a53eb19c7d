"""Function code without Docker: one asset holding `functions/`, `collector/` and the Lambda deps.

Dependencies are installed with pip for the Lambda platform and architecture
(`--platform manylinux2014_<arch> --only-binary=:all:`), so `cdk synth` works on a laptop with no
Docker engine. The list of dependencies is the `lambda` extra of pyproject.toml: one list for
the bundle, the tests and the benchmark.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = lambda_.Runtime.PYTHON_3_14
_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
# Only these reach the asset (and its hash): the rest of the repository never ships.
_SHIPPED = ("functions", "collector", "pyproject.toml")


def lambda_requirements() -> list[str]:
    """The `lambda` extra of pyproject.toml."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        return list(tomllib.load(f)["project"]["optional-dependencies"]["lambda"])


@jsii.implements(ILocalBundling)
class PipBundler:
    """Builds the bundle on the host with pip; never falls back to Docker."""

    def __init__(self, architecture: str) -> None:
        self._platform = _PLATFORMS[architecture]

    def try_bundle(self, output_dir: str, *_args: object, **_options: object) -> bool:
        out = Path(output_dir)
        python_version = RUNTIME.name.removeprefix("python")
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
            str(out),
            "--platform",
            self._platform,
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            python_version,
            *lambda_requirements(),
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"bundling failed: pip could not install the lambda deps:\n{result.stderr}")
        # collector/local/ holds the local pipeline's files (builder manifest, Jaeger's config): not shipped.
        for folder, left_out in (("functions", ()), ("collector", ("local",))):
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", *left_out)
            shutil.copytree(ROOT / folder, out / folder, ignore=ignore, dirs_exist_ok=True)
        return True


def function_code(architecture: str) -> lambda_.Code:
    """The asset every function of the app runs from; handlers are `functions.<name>.handler.handler`."""
    return lambda_.Code.from_asset(
        str(ROOT),
        exclude=[
            "*",
            *(f"!{p}" for p in _SHIPPED),
            "!functions/**",
            "!collector/**",
            "collector/local",
            "**/__pycache__",
        ],
        bundling=BundlingOptions(
            image=RUNTIME.bundling_image,
            local=PipBundler(architecture),
            command=["false"],  # never used: the local bundler always succeeds or raises
        ),
    )
