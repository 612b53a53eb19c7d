"""Behaviour that needs a fresh process per execution environment: cold start, a dead endpoint."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from infra import topology
from tests.conftest import ROOT
from tests.events import api_request, sns_event_for, sqs_event_for

EXPORT_TIMEOUT_S = 1.0


def run(
    tmp_path: Path, local_aws, calls: list[dict], *, exporter: str, extra_env: dict[str, str], **snapstart: object
) -> dict:
    """One fresh process; `snapstart`: the SnapStart keys of tests/invoke_in_fresh_process.py."""
    env = {**os.environ, **local_aws.environment(), **extra_env}
    for spec in topology.FUNCTIONS:
        env.update(local_aws.function_environment(spec))
    spec_file, out_file = tmp_path / "spec.json", tmp_path / "out.json"
    spec_file.write_text(json.dumps({"exporter": exporter, "calls": calls, **snapstart}))
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "invoke_in_fresh_process.py"), str(spec_file), str(out_file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out_file.read_text())


def test_cold_start_is_true_only_on_the_first_invocation(tmp_path, local_aws) -> None:
    out = run(
        tmp_path,
        local_aws,
        [{"handler": "dynamo", "event": sns_event_for(f"/cold/{i}", traceparent=None)} for i in range(3)],
        exporter="memory",
        extra_env={},
    )
    invocations = [s for s in out["spans"] if "faas.coldstart" in s["attributes"]]
    assert [s["attributes"]["faas.coldstart"] for s in invocations] == [True, False, False]


def test_the_standard_variable_turns_an_instrumentation_off(tmp_path, local_aws) -> None:
    call = [{"handler": "dynamo", "event": sns_event_for("/instrumented", traceparent=None)}]
    on = run(tmp_path, local_aws, call, exporter="memory", extra_env={})
    disabled = {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "botocore, urllib3"}
    off = run(tmp_path, local_aws, call, exporter="memory", extra_env=disabled)
    # With botocore's off, urllib3's would trace botocore's HTTP request: both off leaves our spans only.
    assert "DynamoDB.UpdateItem" in {s["name"] for s in on["spans"]}
    assert [s["name"] for s in off["spans"]] == [s["name"] for s in on["spans"] if s["name"] != "DynamoDB.UpdateItem"]
    assert off["calls"][0]["error"] is None


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed when the block ends: nothing listens there


def test_a_dead_endpoint_neither_fails_nor_hangs_any_handler(tmp_path, local_aws) -> None:
    # GIVEN the OTLP endpoint has nothing listening and a 1 s export budget
    calls = [
        {"handler": "ingest", "event": api_request("/dead")},
        {"handler": "dynamo", "event": sns_event_for("/dead", traceparent=None)},
        {"handler": "http", "event": sns_event_for("/dead", traceparent=None)},
        {"handler": "sqs", "event": sns_event_for("/dead", traceparent=None)},
        {"handler": "sqs_subscriber", "event": sqs_event_for("/dead")},
        {"handler": "sns", "event": sns_event_for("/dead", traceparent=None)},
        {"handler": "sns_subscriber", "event": sns_event_for("/dead", traceparent=None)},
    ]
    out = run(
        tmp_path,
        local_aws,
        calls,
        exporter="otlp",
        extra_env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{closed_port()}",
            "OTEL_EXPORTER_OTLP_TIMEOUT": str(EXPORT_TIMEOUT_S),
            "EXTERNAL_URL": local_aws.endpoint,
            "FAULT_RATE": "0",
        },
    )
    # THEN every handler returns its normal result, each within the budget (+ its own work)
    results = {c["handler"]: r for c, r in zip(calls, out["calls"], strict=True)}
    for name, call in results.items():
        assert call["error"] is None, f"{name}: {call['error']}"
        assert call["seconds"] < EXPORT_TIMEOUT_S + 1.0, f"{name} took {call['seconds']:.2f} s"
    assert results["ingest"]["result"]["statusCode"] == 200
    assert results["dynamo"]["result"] == {"counted": 1}
    assert results["http"]["result"] == {"calls": 1}
    assert results["sqs"]["result"] == {"sent": 1}
    assert results["sqs_subscriber"]["result"] == {"batchItemFailures": []}
    assert results["sns"]["result"] == {"published": 1}
    assert results["sns_subscriber"]["result"] == {"received": 1}


LAMBDA_SEGMENT = "Root=1-6b000000-aaaaaaaaaaaaaaaaaaaaaaaa;Parent=bbbbbbbbbbbbbbbb;Sampled=1"


def record_with_xray_header() -> dict:
    event = sqs_event_for("/xray")
    event["Records"][0]["attributes"]["AWSTraceHeader"] = (
        "Root=1-6b000001-cccccccccccccccccccccccc;Parent=dddddddddddddddd;Sampled=1"
    )
    return event


def test_xray_lambda_propagator_parents_api_spans_on_lambdas_segment_but_messages_win(tmp_path, local_aws) -> None:
    # GIVEN the xray/both profile (Active tracing): Lambda sets _X_AMZN_TRACE_ID per invocation
    calls = [
        {"handler": "ingest", "event": api_request("/active")},
        {"handler": "sqs_subscriber", "event": record_with_xray_header()},
    ]
    env = {"OTEL_PROPAGATORS": "tracecontext,baggage,xray-lambda", "_X_AMZN_TRACE_ID": LAMBDA_SEGMENT}
    spans = run(tmp_path, local_aws, calls, exporter="memory", extra_env=env)["spans"]
    by_trigger = {s["attributes"]["faas.trigger"]: s for s in spans if "faas.trigger" in s["attributes"]}
    # THEN the API invocation continues Lambda's segment (one trace in X-Ray)...
    assert by_trigger["http"]["trace_id"] == "6b000000aaaaaaaaaaaaaaaaaaaaaaaa"
    assert by_trigger["http"]["parent_id"] == "bbbbbbbbbbbbbbbb"
    # ...while an SQS record's own context beats Lambda's (which for SQS starts a new trace)
    assert by_trigger["pubsub"]["trace_id"] == "6b000001cccccccccccccccccccccccc"
    assert by_trigger["pubsub"]["parent_id"] == "dddddddddddddddd"


def test_jaeger_profile_ignores_lambdas_env_segment(tmp_path, local_aws) -> None:
    # GIVEN the jaeger profile: the `xray` propagator, Lambda tracing PassThrough (Sampled=0)
    calls = [{"handler": "ingest", "event": api_request("/passthrough")}]
    env = {"OTEL_PROPAGATORS": "tracecontext,baggage,xray", "_X_AMZN_TRACE_ID": LAMBDA_SEGMENT.replace("=1", "=0")}
    [server] = [
        s
        for s in run(tmp_path, local_aws, calls, exporter="memory", extra_env=env)["spans"]
        if s["attributes"].get("faas.trigger") == "http"
    ]
    # THEN the API span is a root of its own, sampled, and never an orphan of an unsent segment
    assert server["parent_id"] is None
    assert server["trace_id"] != "6b000000aaaaaaaaaaaaaaaaaaaaaaaa"


SNAPSTART_RUNTIME = ROOT / "tests" / "fixtures" / "snapstart_runtime"


def restored_environments(tmp_path: Path, local_aws, count: int, *, skip_hooks: bool) -> list[list[dict]]:
    """Init once and keep what a snapshot holds; then `count` environments restored from it.

    Each restored environment is a fresh process that runs the same init (imports, setup, one
    priming invocation), then has the snapshot's random state put back — the memory every
    environment restored from one snapshot shares — and the runtime's after-restore hooks run.
    """
    env = {"PYTHONPATH": str(SNAPSTART_RUNTIME)}
    prime = [{"handler": "dynamo", "event": sns_event_for("/prime", traceparent=None)}]
    snapshot = tmp_path / "snapshot.pickle"
    init = tmp_path / "init"
    init.mkdir()
    run(init, local_aws, [], exporter="memory", extra_env=env, init_calls=prime, snapshot_to=str(snapshot))
    spans = []
    for n in range(count):
        restored = tmp_path / f"env{n}"
        restored.mkdir()
        paths = [f"/restored/{n}/{i}" for i in range(2)]
        calls = [{"handler": "dynamo", "event": sns_event_for(path, traceparent=None)} for path in paths]
        out = run(
            restored,
            local_aws,
            calls,
            exporter="memory",
            extra_env=env,
            init_calls=prime,
            restore_from=str(snapshot),
            skip_hooks=skip_hooks,
        )
        assert all(call["error"] is None for call in out["calls"]), out["calls"]
        spans.append(out["spans"])
    return spans


def test_snapstart_restored_environments_draw_their_own_ids(tmp_path, local_aws) -> None:
    environments = restored_environments(tmp_path, local_aws, 4, skip_hooks=False)
    invocations = [[s for s in spans if "faas.coldstart" in s["attributes"]] for spans in environments]
    first_trace_ids = [spans[0]["trace_id"] for spans in invocations]
    assert len(set(first_trace_ids)) == 4, first_trace_ids
    span_ids = [s["span_id"] for spans in environments for s in spans]
    assert len(set(span_ids)) == len(span_ids)
    # The first invocation after a restore is the environment's cold start, though init primed it.
    assert all([s["attributes"]["faas.coldstart"] for s in spans] == [True, False] for spans in invocations)


def test_snapstart_without_the_after_restore_hook_ids_collide(tmp_path, local_aws) -> None:
    """The simulation is faithful: without the hook, restored environments repeat each other's ids."""
    environments = restored_environments(tmp_path, local_aws, 3, skip_hooks=True)
    # X-Ray trace ids start with the epoch second; the rest, and every span id, come from `random`.
    random_parts = {tuple((s["trace_id"][8:], s["span_id"]) for s in spans) for spans in environments}
    assert len(random_parts) == 1, random_parts
    invocations = [s for s in environments[0] if "faas.coldstart" in s["attributes"]]
    assert [s["attributes"]["faas.coldstart"] for s in invocations] == [False, False]


def test_snapstart_hook_is_not_registered_outside_lambda() -> None:
    """No `snapshot_restore_py` (any runtime but Lambda's with SnapStart): nothing to register."""
    from functions.tracing import _snapstart

    assert _snapstart.register(before_snapshot=lambda: None) is False


def test_after_restore_drops_the_exporters_pooled_connections(monkeypatch) -> None:
    """A connection pooled before the snapshot would be dead in every restored environment."""
    from functions.tracing import _bootstrap, _snapstart
    from functions.tracing._state import state

    monkeypatch.setattr(state, "transport", None)
    monkeypatch.setattr(state, "cold_start", False)  # restored after the test, as it was
    _bootstrap._otlp_exporter()
    pool = state.transport._pool  # the transport's urllib3 PoolManager
    pool.connection_from_url("http://127.0.0.1:4318/v1/traces")
    assert len(pool.pools) == 1
    _snapstart.after_restore()
    assert len(pool.pools) == 0
    assert state.cold_start is True
