"""Lambda-shaped environments, one per twin, so each twin pays for exactly what it would ship.

A Lambda execution environment has three places on `sys.path`: the function's bundle (`/var/task`,
first), the layers (`/opt/python`) and the runtime's own site-packages, where AWS ships boto3 and
the runtime interface client. Here (tracectl/emulation/runtime_and_bundle.py builds them, cached outside the
repository): one bare venv of the chosen interpreter plays the runtime (boto3, awslambdaric), each
twin gets its own `task/` (the working directory and first on `sys.path`), and a layer is a
directory put on PYTHONPATH, as Lambda puts `/opt/python`:

- plain: the handler only;
- ours: exactly the bundle infra/bundle.py builds (the same recipe, for this interpreter);
- powertools: the Powertools layer (aws-lambda-powertools + aws-xray-sdk);
- adot: the ADOT Python layer's packages (aws-opentelemetry-distro) with its wrapper;
- otel_lite: lambda-otel-lite (an OpenTelemetry peer that exports after the response) with the
  OTLP/HTTP exporter and the botocore instrumentation; it needs Python 3.12 or newer.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from infra.bundle import compile_bytecode, optional_dependencies
from tracectl.emulation import runtime_and_bundle

ROOT = Path(__file__).resolve().parent.parent
# The ADOT Python layer's distribution (it pins an older OTel than we ship, hence its own layer dir).
ADOT_REQUIREMENTS = ["aws-opentelemetry-distro==0.21.0"]
OTEL_LITE_MINIMUM = "3.12"
# `bin/opentelemetry-instrument` is `sys.exit(run())`; this is the same with `execl` made a no-op.
_WRAPPER_WITHOUT_EXEC = (
    "import sys; import opentelemetry.instrumentation.auto_instrumentation as w; "
    "w.execl = lambda *args: None; sys.argv = ['opentelemetry-instrument', 'true']; w.run()"
)


@dataclass(frozen=True)
class Twin:
    """How to start one twin: directly (`command + [WARM, EVENT_FILE]`, bench/child.py) or as Lambda
    runs it (`handler` in the emulator, behind `exec_wrapper`); `env` on top of the base, in its
    `task` directory (Lambda's working directory is the bundle)."""

    name: str
    task: Path
    command: list[str]
    handler: str
    """The handler string the runtime client resolves, e.g. `bench.twins.ours.handler`."""
    env: dict[str, str] = field(default_factory=dict)
    exec_wrapper: list[str] = field(default_factory=list)
    """What starts the runtime under Lambda (the ADOT layer's AWS_LAMBDA_EXEC_WRAPPER)."""
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


def _layer(name: str, requirements: list[str], python: str) -> Path:
    """A layer's packages, with bytecode for the runtime, as a layer built for it ships them."""

    def build(path: Path) -> None:
        runtime_and_bundle.pip_install(path, requirements, python)
        compile_bytecode(path, python)

    version = runtime_and_bundle.python_version(python)
    key = ["layer", name, str(Path(python).resolve()), version, requirements, "compiled"]
    return runtime_and_bundle.cached(key, build)


def _task(work: Path, name: str, python: str, bundle: Path | None) -> Path:
    """`work/<name>/task`: the twin's bundle (ours: the real one, linked), then the twins and the child."""
    task = work / name / "task"
    shutil.rmtree(task, ignore_errors=True)
    if bundle is not None:
        shutil.copytree(bundle, task, ignore=shutil.ignore_patterns(".complete"), copy_function=os.link)
    task.mkdir(parents=True, exist_ok=True)
    twins = task / "bench"
    shutil.copytree(ROOT / "bench" / "twins", twins / "twins", ignore=shutil.ignore_patterns("__pycache__"))
    (twins / "__init__.py").write_text("")
    shutil.copy(ROOT / "bench" / "child.py", task / "bench_child.py")
    shutil.copy(ROOT / "bench" / "profile_child.py", task / "bench_profile_child.py")
    for path in (twins, task / "bench_child.py", task / "bench_profile_child.py"):
        compile_bytecode(path, python)  # as the bundler does, with the runtime's own interpreter
    return task


def otel_lite_possible(python: str) -> bool:
    major, minor = (int(p) for p in runtime_and_bundle.python_version(python).split("."))
    return (major, minor) >= tuple(int(p) for p in OTEL_LITE_MINIMUM.split("."))


def build_twins(work: Path, python: str) -> dict[str, Twin]:
    """The twins for a runtime of `python`, ready to run from `work` (the run's scratch directory)."""
    runtime = str(runtime_and_bundle.runtime(python))
    powertools_layer = _layer("powertools", optional_dependencies("bench"), runtime)
    adot_layer = _layer("adot", ADOT_REQUIREMENTS, runtime)
    names = ["plain", "ours", "powertools", "adot", *(["otel_lite"] if otel_lite_possible(runtime) else [])]
    ours_bundle = runtime_and_bundle.bundle(runtime)
    tasks = {name: _task(work, name, runtime, ours_bundle if name == "ours" else None) for name in names}

    def child(name: str, module: str) -> list[str]:
        return [runtime, str(tasks[name] / "bench_child.py"), f"bench.twins.{module}"]

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
    wrapper = [runtime, str(adot_layer / "bin" / "opentelemetry-instrument")]
    auto_instrumentation = adot_layer / "opentelemetry" / "instrumentation" / "auto_instrumentation"
    # What the wrapper's exec hands on: its own directory (sitecustomize) and the cwd first on PYTHONPATH.
    exec_path = os.pathsep.join([str(auto_instrumentation), str(tasks["adot"]), str(adot_layer)])
    twins = {
        "plain": Twin("plain", tasks["plain"], child("plain", "plain"), "bench.twins.plain.handler"),
        "ours": Twin(
            "ours",
            tasks["ours"],
            child("ours", "ours"),
            "bench.twins.ours.handler",
            {"OTEL_PROPAGATORS": "tracecontext,baggage,xray"},
        ),
        "powertools": Twin(
            "powertools",
            tasks["powertools"],
            child("powertools", "powertools"),
            "bench.twins.powertools.handler",
            {"PYTHONPATH": str(powertools_layer), "POWERTOOLS_SERVICE_NAME": "bench"},
        ),
        "adot": Twin(
            "adot",
            tasks["adot"],
            [*wrapper, *child("adot", "plain")],
            "bench.twins.plain.handler",
            adot_env,
            exec_wrapper=wrapper,
            # The wrapper up to its exec (callgrind loses a process's counts at exec, so the exec is
            # stubbed out here)…
            wrapper_only=[runtime, "-c", _WRAPPER_WITHOUT_EXEC],
            # …and the interpreter it execs, started directly.
            callgrind_direct=(child("adot", "plain"), {**adot_env, "PYTHONPATH": exec_path}),
        ),
    }
    if "otel_lite" in tasks:
        layer = _layer("otel_lite", optional_dependencies("bench-otel-lite"), runtime)
        twins["otel_lite"] = Twin(
            "otel_lite",
            tasks["otel_lite"],
            child("otel_lite", "otel_lite"),
            "bench.twins.otel_lite.handler",
            # Direct runs have no Runtime API: it flushes in the handler (bench/emulated.py: after the response).
            {"PYTHONPATH": str(layer), "LAMBDA_EXTENSION_SPAN_PROCESSOR_MODE": "sync"},
        )
    return twins
