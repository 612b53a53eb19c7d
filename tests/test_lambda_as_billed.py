"""A function as Lambda bills it: its memory's CPU share, frozen between invocations, shut down with
SIGTERM; spans kept across invocations (TRACING_EXPORT_DELAY_S) and a dead backend paid for once.

Every test runs the probe under AWS's emulator and the real runtime client (tests/probe_environment.py).
Timing bounds here are wide on purpose: each separates "waited for the backend" (≥ 1 s: the exporter
retries after 1 s) from "did not" (well under 0.5 s). The measured figures live in bench/.
"""

from __future__ import annotations

import socket
from contextlib import ExitStack

import pytest

from tests.probe_environment import environment, spans
from tracectl.emulation.lambda_cgroup import MB_PER_VCPU, unavailable_reason
from tracectl.traces.otlp_receiver import OtlpReceiver

DELAY = {"TRACING_EXPORT_DELAY_S": "5"}


@pytest.fixture(autouse=True)
def lambdas_cpu_share(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about time and CPU: each function gets its memory's share, not a whole core."""
    monkeypatch.delenv("TRACECTL_UNTHROTTLED", raising=False)


def cgroups() -> None:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"cgroups: {reason}")


def test_the_runtime_gets_its_memorys_cpu_share_and_is_frozen_between_invocations(task, tmp_path, sink) -> None:
    cgroups()
    with environment(task, tmp_path, sink) as env:
        env.invoke({})
        pid = env.runtime_pid()
        assert env.cgroup is not None and pid in env.cgroup.pids()
        quota = int((env.cgroup.cpu / "cpu.cfs_quota_us").read_text())
        period = int((env.cgroup.cpu / "cpu.cfs_period_us").read_text())
        frozen_after_first = (env.cgroup.freezer / "freezer.state").read_text().strip()
        env.invoke({})  # thawed for it, frozen again after
        frozen_after_second = (env.cgroup.freezer / "freezer.state").read_text().strip()
        groups = env.cgroup.cpu, env.cgroup.freezer
    assert quota / period == pytest.approx(256 / MB_PER_VCPU, rel=0.01)  # the probe has 256 MB
    assert frozen_after_first == frozen_after_second == "FROZEN"
    assert not any(group.exists() for group in groups)  # removed once the environment stopped


@pytest.mark.parametrize("python", ["task", "task_312"])
def test_with_a_delay_spans_wait_in_the_environment_and_all_leave_at_shutdown(python, request, tmp_path, sink):
    """Shutdown is a SIGTERM the runtime must act on: on 3.11 the runtime client's main thread waits in
    native code, where a Python signal handler never runs."""
    task = request.getfixturevalue(python)
    with environment(task, tmp_path, sink, **DELAY) as env:
        invocations = [env.invoke({}) for _ in range(4)]
        received_while_running = len(sink.received_at)
    assert all(i.error is None for i in invocations)
    assert received_while_running == 0  # nothing waited for the backend
    assert all(i.finished_s < 0.5 for i in invocations[1:])
    assert len(spans(sink)) == 4 and len(sink.received_at) == 1  # one request, at shutdown


def test_with_a_delay_a_batch_leaves_when_it_is_due(task, tmp_path, sink) -> None:
    # GIVEN 600 spans in one invocation: more than a batch (512)
    with environment(task, tmp_path, sink, **DELAY) as env:
        env.invoke({"spans": 600})
        received_while_running = len(sink.received_at)
    assert received_while_running == 2  # 512 + 89: due at once, without the delay
    assert len(spans(sink)) == 601


def test_ten_thousand_spans_in_one_invocation_all_arrive(task, tmp_path, sink) -> None:
    with environment(task, tmp_path, sink, timeout_s=60) as env:
        invocation = env.invoke({"spans": 10_000})
    assert invocation.error is None
    assert len(spans(sink)) == 10_001
    assert "dropped" not in (tmp_path / "probe.log").read_text()


def test_a_handler_that_exits_is_reported_failed_and_its_span_is_an_error(task, tmp_path, sink) -> None:
    with environment(task, tmp_path, sink) as env:
        exited = env.invoke({"exit": True})
    assert exited.error is not None
    [span] = spans(sink)
    assert span.error and "SystemExit" in span.status_message and "exits on purpose" in span.status_message


def dead_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_dead_backend_holds_one_invocation_not_every_one_and_spans_arrive_once_it_is_back(task, tmp_path, sink):
    port = dead_port()
    with ExitStack() as running:
        env = running.enter_context(
            environment(task, tmp_path, sink, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}")
        )
        during = [env.invoke({}) for _ in range(8)]
        # GIVEN the backend back on its port (started after the environment: it stops after it)
        backend = OtlpReceiver(tmp_path / "back.jsonl", port=port, answer_after_s=0.08)
        running.callback(backend.__exit__)
        backend.__enter__()
        after = [env.invoke({"sleep": 0.5}) for _ in range(12)]  # the breaker probes within 5 s
        arrived_while_running = len(spans(backend))
    log = (tmp_path / "probe.log").read_text()
    assert all(i.error is None for i in during + after)
    held = [i.finished_s - i.responded_s for i in during if i.responded_s is not None]
    assert len(held) == 8 and held[0] >= 0.9  # the first failure costs one export (the exporter retries once)
    assert all(h < 0.5 for h in held[1:]), held  # then nobody waits for a backend known to be down
    assert arrived_while_running >= 8  # the kept spans and new ones, without waiting for shutdown
    assert len(spans(backend)) == 20  # nothing lost
    assert log.count("did not take") == 1  # said once
