"""What a function's bundle (its `/var/task`) holds, and how it is built: the one recipe for the
CDK asset (infra/bundling.py), the local run (tracectl) and the benchmark's `ours` twin.

- the `lambda` extra of pyproject.toml, installed by pip for the runtime's Python version and the
  Lambda platform (`--platform manylinux2014_<arch> --only-binary=:all:`), so no Docker is needed;
- `functions/` and `collector/` (without LEFT_BEHIND: the local pipeline's files and the deployed
  Jaeger's own config) — `shipped_files()`, which the CDK asset, the local bundle and its cache
  key all follow;
- bytecode compiled by the runtime's own interpreter, when this machine has it (see
  infra/python_runtime.py for why that matters).

No aws_cdk import: tracectl and the benchmark build the same bundle without loading the CDK.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
# The code folders that ship in every function's bundle.
CODE_FOLDERS = ("functions", "collector")
# Only these reach the asset (and its hash): the rest of the repository never ships.
SHIPPED = (*CODE_FOLDERS, "pyproject.toml")
# ...except these: the local pipeline's files and the deployed Jaeger's own config (a task's, not a function's).
LEFT_BEHIND = ("collector/local", "collector/jaeger-on-aws")


def lambda_requirements() -> list[str]:
    """The `lambda` extra of pyproject.toml."""
    return optional_dependencies("lambda")


def optional_dependencies(extra: str) -> list[str]:
    """One extra of pyproject.toml (the runtime and the benchmark's twins read theirs here too)."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        return list(tomllib.load(f)["project"]["optional-dependencies"][extra])


def machine_architecture() -> str:
    """This machine's Lambda architecture name (`x86_64` or `arm64`)."""
    return "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"


def pip_platform_args(python_version: str, architecture: str) -> list[str]:
    """pip's arguments that pick wheels for a Lambda runtime of `python_version` on `architecture`."""
    return [
        "--platform",
        PLATFORMS[architecture],
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        python_version,
    ]


def runtime_interpreter(python_version: str) -> str | None:
    """An interpreter of `python_version` on this machine (this one, when it is that version), or None."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == python_version:
        return sys.executable
    return shutil.which(f"python{python_version}")


def build_bundle(out: Path, *, python_version: str, architecture: str) -> str | None:
    """The whole bundle into `out`. Returns None when it carries bytecode for the runtime, else why not."""
    install_lambda_deps(out, pip_platform_args(python_version, architecture))
    copy_shipped_code(out)
    return compile_for_runtime(out, python_version)


def compile_for_runtime(out: Path, python_version: str) -> str | None:
    """Bytecode for `out` by the runtime's interpreter. None when done, else the reason there is none."""
    interpreter = runtime_interpreter(python_version)
    if interpreter is None:
        return f"python{python_version} is not on PATH"
    try:
        compile_bytecode(out, interpreter)
    except (OSError, subprocess.CalledProcessError) as error:
        return f"python{python_version} could not compile it ({error})"
    return None


def install_lambda_deps(out: Path, pip_args: list[str]) -> None:
    """The `lambda` extra into `out`, with `pip_args` (e.g. `pip_platform_args(...)`)."""
    try:
        pip_install_target(out, lambda_requirements(), pip_args)
    except RuntimeError as error:
        raise RuntimeError(f"bundling failed: {error}") from None


def pip_install_target(out: Path, requirements: list[str], pip_args: list[str]) -> None:
    """`requirements` into the folder `out` (`pip install --target`) with `pip_args`; RuntimeError if not.

    Without bytecode: pip would compile with *this* interpreter, whose bytecode another runtime
    cannot use. Not checked against this venv's packages: the folder is another environment.
    """
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--no-warn-conflicts",
        "--target",
        str(out),
        *pip_args,
        *requirements,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"pip could not install {' '.join(requirements)}:\n{result.stderr}")


def compile_bytecode(out: Path, interpreter: str) -> None:
    """Bytecode for everything in `out`, by `interpreter` (the runtime's version), so Lambda need not compile.

    /var/task is read-only: without bytecode the runtime can use, every cold start compiles every
    module it imports. `unchecked-hash`: the bundle never changes after it is built, and the zip's
    timestamps are not the files' own, so a timestamp check would reject the bytecode.
    """
    command = [interpreter, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(out)]
    subprocess.run(command, check=True, capture_output=True)


def shipped_files() -> list[Path]:
    """Every file of CODE_FOLDERS that ships, relative to the repository: no LEFT_BEHIND, no bytecode."""
    left_behind = [Path(path) for path in LEFT_BEHIND]
    files = []
    for folder in CODE_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            relative = path.relative_to(ROOT)
            if not path.is_file() or "__pycache__" in relative.parts or path.suffix == ".pyc":
                continue
            if not any(relative.is_relative_to(skipped) for skipped in left_behind):
                files.append(relative)
    return files


def copy_shipped_code(out: Path) -> None:
    """`shipped_files()` into `out`, as they ship."""
    for relative in shipped_files():
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, out / relative)
