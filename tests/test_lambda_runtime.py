"""Functions run as Lambda runs them: AWS's runtime interface emulator, the real runtime client.

What the tracing bootstrap does there: export each invocation's spans after the response (an
internal extension), lose none when the handler raises or times out, leave nothing for a frozen
environment, read Lambda's trace header. The probe handlers (tests/fixtures/lambda_probe) are
copied into the app's real bundle, as a function of the app would be.
"""

from __future__ import annotations

import json

from tests.events import EVENTS
from tests.probe_environment import HEADER, environment, spans


def test_spans_leave_after_the_runtime_posted_the_response(task, tmp_path, sink) -> None:
    # GIVEN a backend that answers each export 80 ms late
    with environment(task, tmp_path, sink) as env:
        invocations = [env.invoke({}) for _ in range(4)]
    # THEN every response was posted before its export reached the backend, which got every span
    assert all(i.error is None and i.payload == {"ok": True} for i in invocations)
    assert len(sink.received_at) == 4 and len(spans(sink)) == 4
    assert all(i.posted_at < arrived for i, arrived in zip(invocations, sink.received_at, strict=True))


def test_with_the_switch_off_the_response_waits_for_the_export(task, tmp_path, sink) -> None:
    with environment(task, tmp_path, sink, TRACING_EXPORT_AFTER_RESPONSE="false") as env:
        invocations = [env.invoke({}) for _ in range(3)]
    assert len(spans(sink)) == 3
    assert all(arrived < i.posted_at for i, arrived in zip(invocations, sink.received_at, strict=True))


def test_a_handler_that_raises_is_reported_and_its_span_delivered_as_an_error(task, tmp_path, sink) -> None:
    with environment(task, tmp_path, sink) as env:
        failed = env.invoke({"fail": True})
        after = env.invoke({})
    assert failed.error is not None and failed.error["errorType"] == "ValueError"
    assert "the probe failed on purpose" in failed.error["errorMessage"]
    assert after.error is None
    first, second = spans(sink)
    assert first.error and "the probe failed on purpose" in first.status_message and not second.error


def test_a_handler_that_times_out_still_delivers_its_span_and_the_environment_starts_again(task, tmp_path, sink):
    # GIVEN a 2 s function whose handler sleeps for 4 s
    with environment(task, tmp_path, sink, timeout_s=2) as env:
        timed_out = env.invoke({"sleep": 4})
        after = env.invoke({})
        log = (tmp_path / "probe.log").read_text()
    # THEN Lambda's timeout, the span ended as timed out before the kill, and a fresh (cold) environment
    assert timed_out.error is not None and timed_out.error["errorType"] == "Sandbox.Timedout"
    assert after.error is None
    first, second = spans(sink)
    assert first.error and first.attributes["faas.timeout"] is True and "timed out" in first.status_message
    assert (first.attributes["faas.coldstart"], second.attributes["faas.coldstart"]) == (True, True)
    assert log.count("START RequestId:") == log.count("REPORT RequestId:") == 2


def test_nothing_is_left_for_a_frozen_environment(task, tmp_path, sink) -> None:
    """When the emulator answers, the runtime and every extension are done: Lambda may freeze it now."""
    with environment(task, tmp_path, sink) as env:
        for expected in range(1, 4):
            env.invoke({})
            assert len(spans(sink)) == expected  # at once, no waiting: the export finished before `next`


def test_a_traced_helper_does_not_end_the_invocation_it_runs_in(task, tmp_path, sink) -> None:
    with environment(task, tmp_path, sink, handler="probe.calls_a_traced_helper") as env:
        invocation = env.invoke({})
    # the outermost traced call is the invocation: both spans leave together, after the response
    assert invocation.error is None and len(spans(sink)) == 2
    assert len(sink.received_at) == 1 and invocation.posted_at < sink.received_at[0]


def test_lambdas_trace_header_is_the_parent_of_an_event_without_context(task, tmp_path, sink) -> None:
    with environment(task, tmp_path, sink) as env:
        env.invoke({"detail": "none"}, trace_header=HEADER)
        env.invoke({"detail": "none"}, trace_header=HEADER.replace("Sampled=1", "Sampled=0"))
    [span] = spans(sink)  # the unsampled one exported nothing
    assert (span.trace_id, span.parent_id) == ("5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8")


def test_the_functions_log_carries_lambdas_lines_and_the_handlers_own(task, tmp_path, sink) -> None:
    with environment(task, tmp_path, sink) as env:
        invocation = env.invoke({})
    log = (tmp_path / "probe.log").read_text()
    assert f"START RequestId: {invocation.request_id}" in log and f"END RequestId: {invocation.request_id}" in log
    [report] = [line for line in log.splitlines() if line.startswith("REPORT RequestId")]
    assert "Duration:" in report and "Memory Size: 256 MB" in report
    assert "Internal agent otel-tracer" in log and "registered, subscribed to [INVOKE]" in log


EVENT_TRACE = "5f8a1b2c0af7651916cd43dd8448eb21"  # the context the fixtures that carry one carry


def test_in_xray_mode_every_trigger_follows_lambdas_header_unless_its_event_carries_a_context(task, tmp_path, sink):
    """`xray-lambda` under the real runtime client: `_X_AMZN_TRACE_ID` comes from Lambda-Runtime-Trace-Id."""
    fixtures = sorted(EVENTS.glob("*.json"))
    with environment(task, tmp_path, sink) as env:
        given = {}
        for number, path in enumerate(fixtures):
            root, parent = f"5759e988{number:024x}", f"{number + 1:016x}"
            header = f"Root=1-{root[:8]}-{root[8:]};Parent={parent};Sampled=1"
            invocation = env.invoke(json.loads(path.read_text()), trace_header=header)
            assert invocation.error is None, (path.stem, invocation.error)
            given[invocation.request_id] = (path, root, parent)
    by_request = {s.attributes["faas.invocation_id"]: s for s in spans(sink) if "faas.invocation_id" in s.attributes}
    assert by_request.keys() == given.keys()
    for request_id, (path, root, parent) in given.items():
        span = by_request[request_id]
        carries = "traceparent" in path.read_text() or "AWSTraceHeader" in path.read_text()
        if carries:  # the message's own context wins over Lambda's
            assert span.trace_id == EVENT_TRACE, path.stem
        else:  # S3, schedules, Kinesis, WebSocket, a plain EventBridge event, a function URL: Lambda's header
            assert (span.trace_id, span.parent_id) == (root, parent), path.stem


def test_under_snapstart_priming_exports_during_init_and_the_restore_hook_rearms_cold_start(task, tmp_path, sink):
    """Spans left in the buffer at the snapshot would be exported by every restored environment.

    The runtime client asks for `restore/next` when init is done and then runs the after-restore
    hooks the bootstrap registered (the proxy answers it: the emulator has no SnapStart).
    """
    with environment(task, tmp_path, sink, init="snap-start", PROBE_PRIME_DURING_INIT="1") as env:
        first = env.invoke({})
        second = env.invoke({})
    assert first.error is None and second.error is None
    priming, *invocations = spans(sink)
    assert priming.attributes["faas.invocation_id"] == "priming" and len(invocations) == 2
    assert len(sink.received_at) == 3 and sink.received_at[0] < first.posted_at  # flushed during init
    assert second.posted_at < sink.received_at[2]  # then after the response again
    # priming took the cold start; the after-restore hook gave it back to the first real invocation
    coldstarts = [s.attributes["faas.coldstart"] for s in (priming, *invocations)]
    assert coldstarts == [True, True, False]
