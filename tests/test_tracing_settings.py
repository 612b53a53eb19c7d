"""Whatever the environment says, the bootstrap imports and traces: odd values warn once, never raise.

Each case is a fresh process (the bootstrap reads its environment once, at import and setup).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from tests.conftest import ROOT

PROBE_DIR = ROOT / "tests" / "fixtures" / "lambda_probe"
# Imports the probe handler (its module traces it at import), invokes it once, reports what happened.
SCRIPT = """
import json, logging, sys
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import functions.tracing as tracing
memory = InMemorySpanExporter()
tracing.setup(exporter=memory)
import probe
from tests.events import LocalContext
log = tracing.get_logger("probe.log")
log.debug("a debug line")
log.info("an info line")
result = probe.handler({}, LocalContext("probe"))
print(json.dumps({"result": result, "spans_before_any_flush": len(memory.get_finished_spans()),
                  "level": logging.getLevelName(log.level)}), file=sys.__stderr__)
"""


def run(**env: str) -> tuple[dict, list[str], str]:
    """(what the script reported, the tracing warnings on stderr, stdout) for a fresh process."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AWS_LAMBDA", "LOG_LEVEL", "_HANDLER"))}
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env={**base, "PYTHONPATH": f"{ROOT}:{PROBE_DIR}", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    lines = completed.stderr.splitlines()
    report = json.loads(lines[-1])
    return report, [line for line in lines[:-1] if "tracing:" in line], completed.stdout


@pytest.mark.parametrize(
    ("value", "level"),
    [("debug", "DEBUG"), ("Warning", "WARNING"), ("ERROR", "ERROR"), ("10", "DEBUG"), (" info ", "INFO")],
)
def test_log_level_in_any_case_or_as_a_number(value: str, level: str) -> None:
    report, warnings, stdout = run(LOG_LEVEL=value)
    assert report["level"] == level and report["result"] == {"ok": True} and warnings == []
    assert ("a debug line" in stdout) == (level == "DEBUG")


@pytest.mark.parametrize("value", ["verbose", "1e3x", "-", "INFO;rm"])
def test_an_unknown_log_level_is_info_with_one_warning(value: str) -> None:
    report, warnings, stdout = run(LOG_LEVEL=value)
    assert report["level"] == "INFO" and report["result"] == {"ok": True}
    assert len(warnings) == 1 and "LOG_LEVEL" in warnings[0] and "using INFO" in warnings[0]
    assert "an info line" in stdout and "a debug line" not in stdout


@pytest.mark.parametrize("value", ["soon", "-1", "0", "nan", "inf"])
def test_an_unusable_export_timeout_falls_back_with_one_warning(value: str) -> None:
    report, warnings, _ = run(OTEL_EXPORTER_OTLP_TIMEOUT=value)
    assert report["result"] == {"ok": True}
    assert len(warnings) == 1 and "OTEL_EXPORTER_OTLP_TIMEOUT" in warnings[0] and "using 2.0" in warnings[0]


def a_dead_runtime_api() -> dict[str, str]:
    """Lambda's variables, with a Runtime API nothing answers at: registration must fail."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens there once the block ends
    return {"AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{closed}", "_HANDLER": "probe.handler"}


def test_outside_lambda_spans_are_exported_before_the_handler_returns() -> None:
    report, warnings, _ = run()
    assert report["spans_before_any_flush"] == 1 and warnings == []


def test_when_registration_fails_the_handler_exports_inline_and_says_why_once() -> None:
    report, warnings, _ = run(**a_dead_runtime_api())
    assert report["result"] == {"ok": True} and report["spans_before_any_flush"] == 1
    assert len(warnings) == 1 and "could not register the after-response extension" in warnings[0]
    assert "exporting inline" in warnings[0]


def test_an_unknown_switch_value_keeps_the_default_with_one_warning() -> None:
    report, warnings, _ = run(TRACING_EXPORT_AFTER_RESPONSE="maybe", **a_dead_runtime_api())
    assert report["result"] == {"ok": True}
    assert "TRACING_EXPORT_AFTER_RESPONSE='maybe' is not true or false; using true" in warnings[0]
    assert "could not register" in warnings[1]  # it did try: the default is on


def test_the_switch_turns_exporting_after_the_response_off() -> None:
    report, warnings, _ = run(TRACING_EXPORT_AFTER_RESPONSE="false", **a_dead_runtime_api())
    assert report["spans_before_any_flush"] == 1 and warnings == []  # never tried to register
