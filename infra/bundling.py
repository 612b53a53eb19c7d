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
    return optional_dependencies("lambda")


def optional_dependencies(extra: str) -> list[str]:
    """One extra of pyproject.toml (the benchmark reads its `bench` extra here too)."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        return list(tomllib.load(f)["project"]["optional-dependencies"][extra])


@jsii.implements(ILocalBundling)
class PipBundler:
    """Builds the bundle on the host with pip; never falls back to Docker."""

    def __init__(self, architecture: str) -> None:
        self._platform = _PLATFORMS[architecture]

    def try_bundle(self, output_dir: str, *_args: object, **_options: object) -> bool:
        python_version = RUNTIME.name.removeprefix("python")
        platform = ["--platform", self._platform, "--only-binary=:all:", "--implementation", "cp"]
        out = Path(output_dir)
        install_bundle(out, [*platform, "--python-version", python_version])
        interpreter = shutil.which(f"python{python_version}")
        try:
            if interpreter is None:
                raise FileNotFoundError(f"python{python_version}")
            compile_bytecode(out, interpreter)
        except (OSError, subprocess.CalledProcessError) as error:
            print(
                f"bundling: no bytecode for the runtime ({error}), so every cold start compiles the SDK "
                f"(more than twice its cold instructions, see README); put python{python_version} on PATH to fix",
                file=sys.stderr,
            )
        return True


def install_bundle(out: Path, pip_args: list[str]) -> None:
    """What the function asset holds: the `lambda` extra (pip, with `pip_args`) and our folders."""
    install_lambda_deps(out, pip_args)
    copy_shipped_code(out)


def install_lambda_deps(out: Path, pip_args: list[str]) -> None:
    """The `lambda` extra into `out`; the benchmark calls it with no `pip_args` (the local interpreter)."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        # pip would compile with *this* interpreter, whose bytecode the runtime cannot use.
        "--no-compile",
        "--target",
        str(out),
        *pip_args,
        *lambda_requirements(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"bundling failed: pip could not install the lambda deps:\n{result.stderr}")


def compile_bytecode(out: Path, interpreter: str) -> None:
    """Bytecode for everything in `out`, by `interpreter` (the runtime's version), so Lambda need not compile.

    /var/task is read-only: without bytecode the runtime can use, every cold start compiles every
    module it imports. `unchecked-hash`: the bundle never changes after it is built, and the zip's
    timestamps are not the files' own, so a timestamp check would reject the bytecode.
    """
    command = [interpreter, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(out)]
    subprocess.run(command, check=True, capture_output=True)


def copy_shipped_code(out: Path) -> None:
    """functions/ and collector/ as they ship; collector/local/ (the local pipeline's files) stays behind."""
    for folder, left_out in (("functions", ()), ("collector", ("local",))):
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", *left_out)
        shutil.copytree(ROOT / folder, out / folder, ignore=ignore, dirs_exist_ok=True)


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
