"""The probe function (tests/fixtures/lambda_probe) in an execution environment, as Lambda runs it.

A pytest plugin (conftest's `pytest_plugins`): the fixtures `task` (the app's real bundle plus the
probe, on this interpreter's runtime), `task_312` (the same on python3.12, skipped where there is
none) and `sink` (an OTLP backend answering 80 ms late), and the helpers `environment()` and `spans()`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracectl.emulation import runtime_and_bundle
from tracectl.emulation.execution_environment import ExecutionEnvironment, FunctionSpec
from tracectl.traces.otlp_receiver import OtlpReceiver
from tracectl.traces.trace_model import Span, load_jsonl

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "tests" / "fixtures" / "lambda_probe" / "probe.py"
# A collector that exports before it answers (the ADOT layer's) makes the SDK's export wait this long.
BACKEND_S = 0.08
HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def _task(tmp_path_factory: pytest.TempPathFactory, python: str) -> tuple[Path, Path]:
    runtime = runtime_and_bundle.runtime(python)
    bundle = tmp_path_factory.mktemp("probe-task") / "task"
    shutil.copytree(runtime_and_bundle.bundle(str(runtime)), bundle, copy_function=os.link)
    shutil.copy(PROBE, bundle / "probe.py")
    return runtime, bundle


def _python(version: str) -> str | None:
    """An interpreter of `version` that runs: on PATH, else pyenv's (whose shim may not select it)."""
    pyenv = sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python{version}"))
    candidates = [shutil.which(f"python{version}"), *pyenv]
    for candidate in filter(None, candidates):
        try:
            if runtime_and_bundle.python_version(str(candidate)) == version:
                return str(candidate)
        except (OSError, subprocess.CalledProcessError):
            continue
    return None


@pytest.fixture(scope="session")
def task(tmp_path_factory: pytest.TempPathFactory, lambda_emulator: None) -> tuple[Path, Path]:
    """(runtime interpreter, bundle with the probe): the app's bundle, plus one module."""
    return _task(tmp_path_factory, sys.executable)


@pytest.fixture(scope="session")
def task_312(tmp_path_factory: pytest.TempPathFactory, lambda_emulator: None) -> tuple[Path, Path]:
    """The same on python3.12, where awslambdaric waits for invocations in another thread."""
    python = _python("3.12")
    if python is None:
        reason = "no python3.12 on this machine (pyenv install 3.12 gives one)"
        if os.environ.get("TRACECTL_REQUIRE_E2E") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return _task(tmp_path_factory, python)


def environment(task, tmp_path: Path, sink: OtlpReceiver, handler: str = "probe.handler", timeout_s: int = 3,
                init: str = "on-demand", **env: str) -> ExecutionEnvironment:
    runtime, bundle = task
    spec = FunctionSpec(
        name="probe",
        handler=handler,
        python_version=runtime_and_bundle.python_version(str(runtime)),
        memory_mb=256,
        timeout_s=timeout_s,
        initialization_type=init,
        environment={
            "OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint,
            "OTEL_SERVICE_NAME": "probe",
            "OTEL_PROPAGATORS": "tracecontext,baggage,xray-lambda",
            "AWS_REGION": "us-east-1",
            **env,
        },
    )
    return ExecutionEnvironment(spec, task=bundle, runtime_python=runtime, log=tmp_path / "probe.log")


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[OtlpReceiver]:
    with OtlpReceiver(tmp_path / "spans.jsonl", answer_after_s=BACKEND_S) as receiver:
        yield receiver


def spans(sink: OtlpReceiver) -> list[Span]:
    traces = load_jsonl(sink.out_file) if sink.out_file.exists() else {}
    return sorted((s for t in traces.values() for s in t.spans), key=lambda s: s.start_ns)


