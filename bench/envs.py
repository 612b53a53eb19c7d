"""Lambda-shaped environments, one per twin, so each twin pays for exactly what it would ship.

A Lambda execution environment has three places on `sys.path`: the function's bundle (`/var/task`,
first), the layers (`/opt/python`) and the runtime's own site-packages, where AWS ships boto3.
Here: one bare venv plays the runtime (boto3 alone, the same version as the dev venv's), each twin
gets its own `task/` (the working directory and first on `sys.path`), and a layer is a directory
put on PYTHONPATH, as Lambda puts `/opt/python`:

- plain: the handler only;
- ours: exactly what `infra/bundling.py` ships (the same functions, for the local interpreter);
- powertools: the Powertools layer (aws-lambda-powertools + aws-xray-sdk);
- adot: the ADOT Python layer's packages (aws-opentelemetry-distro) with its wrapper.

Third-party packages are installed once per requirement set, in a cache outside the repository;
our code (functions/, the twins, the child) is copied fresh on every run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from infra.bundle import (
    compile_bytecode,
    copy_shipped_code,
    install_lambda_deps,
    lambda_requirements,
    optional_dependencies,
)

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "otel-tracer" / "bench"
# The ADOT Python layer's distribution (it pins an older OTel than we ship, hence its own layer dir).
ADOT_REQUIREMENTS = ["aws-opentelemetry-distro==0.21.0"]
# `bin/opentelemetry-instrument` is `sys.exit(run())`; this is the same with `execl` made a no-op.
_WRAPPER_WITHOUT_EXEC = (
    "import sys; import opentelemetry.instrumentation.auto_instrumentation as w; "
    "w.execl = lambda *args: None; sys.argv = ['opentelemetry-instrument', 'true']; w.run()"
)


@dataclass(frozen=True)
class Twin:
    """How to start one twin's fresh process: `command + [WARM, EVENT_FILE]`, `env` on top of the base,
    in its `task` directory (Lambda's working directory is the bundle)."""

    name: str
    task: Path
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    # ADOT's wrapper is a first interpreter that execs the second; callgrind loses what a process did
    # before exec, so under callgrind it runs as two processes: this one (the wrapper up to its exec)
    # and `callgrind_direct` (the exec'd interpreter, with the environment the wrapper gives it).
    wrapper_only: list[str] | None = None
    callgrind_direct: tuple[list[str], dict[str, str]] | None = None

    def callgrind_processes(self, warm: int, event_file: str) -> list[tuple[list[str], dict[str, str]]]:
        args = [str(warm), event_file]
        if self.callgrind_direct is None or self.wrapper_only is None:
            return [([*self.command, *args], self.env)]
        command, env = self.callgrind_direct
        return [(self.wrapper_only, self.env), ([*command, *args], env)]


def _pip_target(target: Path, requirements: list[str]) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*command, "--target", str(target), *requirements], check=True)


def _cached(key_parts: object, build: Callable[[Path], None]) -> Path:
    """A directory built once per `key_parts` (and Python version) by `build(path)`."""
    key = json.dumps([key_parts, sys.version_info[:2]], sort_keys=True)
    path = CACHE / hashlib.sha256(key.encode()).hexdigest()[:16]
    if not (path / ".complete").exists():
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        build(path)
        (path / ".complete").touch()
    return path


def _runtime() -> Path:
    """The runtime: a bare interpreter whose site-packages holds boto3 alone. Returns its python."""
    boto3 = f"boto3=={metadata.version('boto3')}"

    def build(path: Path) -> None:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path / "venv")], check=True)
        python = path / "venv" / "bin" / "python"
        site = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        _pip_target(Path(site), [boto3])

    return _cached(["runtime", boto3], build) / "venv" / "bin" / "python"


def _task(work: Path, name: str, python: str, deps: Path | None, ours: bool) -> Path:
    """`work/<name>/task`: the twin's bundle — cached deps (if any), then our code, fresh."""
    task = work / name / "task"
    shutil.rmtree(task, ignore_errors=True)
    if deps is not None:
        shutil.copytree(deps, task, ignore=shutil.ignore_patterns(".complete"), symlinks=True)
    task.mkdir(parents=True, exist_ok=True)
    if ours:
        copy_shipped_code(task)
    twins = task / "bench"
    shutil.copytree(ROOT / "bench" / "twins", twins / "twins", ignore=shutil.ignore_patterns("__pycache__"))
    (twins / "__init__.py").write_text("")
    shutil.copy(ROOT / "bench" / "child.py", task / "bench_child.py")
    shutil.copy(ROOT / "bench" / "profile_child.py", task / "bench_profile_child.py")
    # As `infra/bundling.py` does with the runtime's interpreter; here the runtime is this interpreter.
    compile_bytecode(task, python)
    return task


def build_twins(work: Path) -> dict[str, Twin]:
    """The four twins, ready to run from `work` (the run's scratch directory)."""
    python = str(_runtime())
    ours_deps = _cached(["ours", lambda_requirements()], lambda p: install_lambda_deps(p, []))
    powertools = optional_dependencies("bench")
    powertools_layer = _cached(["powertools", powertools], lambda p: _pip_target(p, powertools))
    adot_layer = _cached(["adot", ADOT_REQUIREMENTS], lambda p: _pip_target(p, ADOT_REQUIREMENTS))

    tasks = {
        "plain": _task(work, "plain", python, None, ours=False),
        "ours": _task(work, "ours", python, ours_deps, ours=True),
        "powertools": _task(work, "powertools", python, None, ours=False),
        "adot": _task(work, "adot", python, None, ours=False),
    }

    def child(name: str, module: str) -> list[str]:
        return [python, str(tasks[name] / "bench_child.py"), f"bench.twins.{module}"]

    # As the ADOT Python layer runs a function: its `opentelemetry-instrument` wrapper with the AWS
    # distro and configurator; the aws-lambda instrumentation wraps the handler named by _HANDLER.
    adot_env = {
        "PYTHONPATH": str(adot_layer),
        "OTEL_PYTHON_DISTRO": "aws_distro",
        "OTEL_PYTHON_CONFIGURATOR": "aws_configurator",
        "_HANDLER": "bench.twins.plain.handler",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_AWS_APPLICATION_SIGNALS_ENABLED": "false",
    }
    wrapper = [python, str(adot_layer / "bin" / "opentelemetry-instrument")]
    auto_instrumentation = adot_layer / "opentelemetry" / "instrumentation" / "auto_instrumentation"
    # What the wrapper's exec hands on: its own directory (sitecustomize) and the cwd first on PYTHONPATH.
    exec_path = os.pathsep.join([str(auto_instrumentation), str(tasks["adot"]), str(adot_layer)])
    return {
        "plain": Twin("plain", tasks["plain"], child("plain", "plain")),
        "ours": Twin("ours", tasks["ours"], child("ours", "ours"), {"OTEL_PROPAGATORS": "tracecontext,baggage,xray"}),
        "powertools": Twin(
            "powertools",
            tasks["powertools"],
            child("powertools", "powertools"),
            {"PYTHONPATH": str(powertools_layer), "POWERTOOLS_SERVICE_NAME": "bench"},
        ),
        "adot": Twin(
            "adot",
            tasks["adot"],
            [*wrapper, *child("adot", "plain")],
            adot_env,
            # The wrapper up to its exec (callgrind loses a process's counts at exec, so the exec is
            # stubbed out here)…
            wrapper_only=[python, "-c", _WRAPPER_WITHOUT_EXEC],
            # …and the interpreter it execs, started directly.
            callgrind_direct=(child("adot", "plain"), {**adot_env, "PYTHONPATH": exec_path}),
        ),
    }
