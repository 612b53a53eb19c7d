"""Lambda-shaped environments on this machine: the runtime a function runs on, and its bundle.

A Lambda execution environment has three places for Python code: the function's bundle
(`/var/task`, the working directory, first on `sys.path`), its layers (`/opt/python`), and the
runtime's own site-packages, where AWS ships boto3 and the runtime interface client. Here:
- `runtime(python)`: a bare venv of `python` whose site-packages holds boto3 (this venv's
  version) and `awslambdaric` (pyproject's `runtime` extra) and nothing else;
- `bundle(python)`: the bundle exactly as infra/bundle.py builds it for that runtime version and
  this machine's architecture, bytecode included: the asset `cdk synth` ships, built for here.

Both are built once and cached outside the repository, in `~/.cache/otel-tracer/lambda/<hash>`:
the runtime per interpreter and pins, the bundle's dependencies per requirement set, the bundle
itself per content of what ships (so an edit to functions/ rebuilds only our part, in a second).
Nothing here may be written to once built: `/var/task` is read-only in Lambda.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from infra.bundle import (
    CODE_FOLDERS,
    ROOT,
    compile_bytecode,
    copy_shipped_code,
    install_lambda_deps,
    lambda_requirements,
    machine_architecture,
    optional_dependencies,
    pip_install_target,
    pip_platform_args,
    shipped_files,
)


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "otel-tracer" / "lambda"


def cached(key_parts: object, build: Callable[[Path], None]) -> Path:
    """A directory built once per `key_parts` by `build(path)`; a half-built one is built again."""
    key = json.dumps(key_parts, sort_keys=True)
    path = cache_root() / hashlib.sha256(key.encode()).hexdigest()[:16]
    if not (path / ".complete").exists():
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        build(path)
        (path / ".complete").touch()
    return path


def python_version(python: str) -> str:
    """`3.12` for a python3.12 interpreter."""
    done = subprocess.run(
        [python, "-c", "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def pip_install(target: Path, requirements: list[str], python: str) -> None:
    """`requirements` into `target`, as wheels for `python`'s version and this machine."""
    pip_install_target(target, requirements, pip_platform_args(python_version(python), machine_architecture()))


def runtime(python: str = sys.executable, *, client: bool = True) -> Path:
    """The runtime's interpreter: a venv of `python` holding boto3 (and, with `client`, awslambdaric)."""
    requirements = [f"boto3=={metadata.version('boto3')}", *(optional_dependencies("runtime") if client else [])]
    source = str(Path(python).resolve())

    def build(path: Path) -> None:
        subprocess.run([python, "-m", "venv", "--without-pip", str(path / "venv")], check=True)
        interpreter = str(path / "venv" / "bin" / "python")
        site = subprocess.run(
            [interpreter, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        pip_install(Path(site), requirements, interpreter)
        compile_bytecode(Path(site), interpreter)  # the runtime's own packages come compiled, as in Lambda

    return cached(["runtime", source, python_version(python), requirements], build) / "venv" / "bin" / "python"


def bundle_dependencies(python: str) -> Path:
    """The `lambda` extra for `python`'s version on this machine, compiled by `python`."""
    version, architecture = python_version(python), machine_architecture()

    def build(path: Path) -> None:
        install_lambda_deps(path, pip_platform_args(version, architecture))
        compile_bytecode(path, python)

    return cached(["bundle-deps", str(Path(python).resolve()), version, architecture, lambda_requirements()], build)


def bundle(python: str) -> Path:
    """The function bundle for a runtime of `python` (its interpreter compiles the bytecode)."""
    deps = bundle_dependencies(python)

    def build(path: Path) -> None:
        # Hard links: the dependencies are never written to, so the bundle need not copy them.
        skip = shutil.ignore_patterns(".complete")
        shutil.copytree(deps, path, ignore=skip, copy_function=os.link, dirs_exist_ok=True)
        copy_shipped_code(path)
        for folder in CODE_FOLDERS:
            compile_bytecode(path / folder, python)

    return cached(["bundle", str(deps), _shipped_digest()], build)


def _shipped_digest() -> str:
    """A hash of what infra/bundle.py ships from the repository: a change rebuilds the bundle."""
    digest = hashlib.sha256()
    for relative in shipped_files():
        digest.update(relative.as_posix().encode())
        digest.update((ROOT / relative).read_bytes())
    return digest.hexdigest()[:16]
