"""The parts under `tracectl view` and the local run's AWS side, without a browser or the Go-built tools.

- the awsxray conversion against what the real exporter wrote for the same spans (tests/fixtures/captured/);
- the segments the local run writes for API Gateway and Lambda: their documented shape and the header chain;
- the pollers' "quiet" (every source looked again after the last delivery);
- the server's idle stop and the command's one-line errors.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
import urllib3
import yaml
from click.testing import CliRunner

from tests.conftest import ROOT
from tests.trace_documents import captured, captured_sdk, flattened
from tracectl.cli import main
from tracectl.emulation.aws_segments import AwsSegments, Header, as_trace_file_line
from tracectl.emulation.pollers import Pollers
from tracectl.traces import xray_conversion, xray_source
from tracectl.traces.trace_model import spans_from_otlp_json

INDEXED = yaml.safe_load((ROOT / "collector" / "both.yaml").read_text())["exporters"]["awsxray"]["indexed_attributes"]


def test_the_conversion_writes_what_the_real_exporter_wrote_for_the_captured_trace() -> None:
    # GIVEN the SDK's spans of one faulted trace and the segments the awsxray exporter made of them
    sdk, real = captured_sdk(), flattened(captured("xray_segments.json"))
    # WHEN converted here
    ours = xray_conversion.segment_documents(sdk, INDEXED)
    # THEN every span is the same segment or subsegment, named, nested and flagged the same
    assert {d["id"] for d in ours} == set(real) == {s.span_id for s in sdk.spans}
    for doc in ours:
        theirs = real[doc["id"]]
        assert doc["name"] == theirs["name"]
        assert doc.get("type") == theirs.get("type")
        assert doc.get("namespace") == (theirs.get("namespace") or None)
        assert doc.get("parent_id") == (theirs.get("parent_id") or None)
        for flag in ("error", "fault", "throttle"):
            assert bool(doc.get(flag)) == bool(theirs.get(flag)), (doc["name"], flag)
        assert set(doc.get("annotations", {})) == set(theirs.get("annotations", {})), doc["name"]
        assert doc["trace_id"] == theirs["trace_id"]
    faulted = [d for d in ours if d.get("fault")]
    assert faulted and all("CERTIFICATE_VERIFY_FAILED" in d["cause"]["exceptions"][0]["message"] for d in faulted)


def test_converted_documents_read_back_as_otel_spans_not_as_aws_segments() -> None:
    sdk = captured_sdk()
    read = xray_source.from_segments(xray_conversion.segment_documents(sdk, INDEXED))
    assert not any(s.aws_created for s in read.spans)
    assert {s.span_id: s.parent_id for s in read.spans} == {s.span_id: s.parent_id for s in sdk.spans}


def lambda_invocation(segments: AwsSegments, function: str, invoker: Header, *, error: bool = False) -> str:
    pending = segments.invocation(function, invoker)
    segments.record_invocation(pending, request_id="r-1", responded_s=0.010, finished_s=0.015, error=error)
    return pending.runtime_header


def test_an_api_request_gets_api_gateways_segment_and_lambdas_two_above_the_handler() -> None:
    segments = AwsSegments(random.Random(1))
    started = Header("1-6b154410-e11d55412afd26cc57e77a32", None, sampled=True)
    passed_on, api_segment = segments.api_request(started)
    runtime = Header.parse(lambda_invocation(segments, "ingest", passed_on))
    segments.record_api_request(
        passed_on, api_segment, function_name="ingest", method="GET", path="/a", status=200,
        request_id="q-1", started=time.time() - 0.02, ended=time.time(),
    )  # fmt: skip
    by_origin = {d["origin"]: d for d in segments.documents()}
    api, service, function = (by_origin[o] for o in ("AWS::ApiGateway::Stage", "AWS::Lambda", "AWS::Lambda::Function"))
    # API Gateway's stage segment is the root; its `Lambda` subsegment is what it hands Lambda
    assert api["origin"] == "AWS::ApiGateway::Stage" and "parent_id" not in api and api["name"] == "Api/prod"
    [integration] = api["subsegments"]
    assert integration["id"] == passed_on.parent and integration["namespace"] == "aws"
    # Lambda's service segment under it, the function segment under that, the runtime's parent the function's
    assert service["origin"] == "AWS::Lambda" and service["parent_id"] == integration["id"]
    assert function["origin"] == "AWS::Lambda::Function" and function["parent_id"] == service["id"]
    assert runtime == Header(started.root, function["id"], True)
    assert [s["name"] for s in function["subsegments"]] == ["Invocation", "Overhead"]
    assert function["subsegments"][0]["end_time"] == function["subsegments"][1]["start_time"]
    assert all(d["trace_id"] == started.root for d in (api, service, function))


def test_where_lambda_starts_the_trace_its_segment_is_the_root_and_unsampled_writes_nothing() -> None:
    segments = AwsSegments(random.Random(2))
    lambda_invocation(segments, "stream", Header("1-6b154410-e11d55412afd26cc57e77a33", None, sampled=True))
    service = next(d for d in segments.documents() if d["origin"] == "AWS::Lambda")
    assert "parent_id" not in service
    quiet = AwsSegments(random.Random(3))
    lambda_invocation(quiet, "http", Header("1-6b154410-e11d55412afd26cc57e77a34", "53995c3f42cd8ad8", sampled=False))
    assert quiet.documents() == []


def test_in_a_trace_file_they_are_marked_as_aws_and_keep_their_documents() -> None:
    import json

    segments = AwsSegments(random.Random(4))
    invoker = Header("1-6b154410-e11d55412afd26cc57e77a35", "53995c3f42cd8ad8", sampled=True)
    lambda_invocation(segments, "http", invoker, error=True)
    spans = spans_from_otlp_json(json.loads(as_trace_file_line(segments.documents())))
    assert len(spans) == 4 and all(s.aws_created for s in spans)  # two segments, two subsegments
    service = next(s for s in spans if s.attributes.get("origin") == "AWS::Lambda")
    assert service.parent_id == "53995c3f42cd8ad8" and service.error
    kept = [json.loads(s.attributes["aws.xray.segment"]) for s in spans if "aws.xray.segment" in s.attributes]
    assert sorted(d["origin"] for d in kept) == ["AWS::Lambda", "AWS::Lambda::Function"]


def test_pollers_are_quiet_only_once_every_source_looked_again_after_the_last_delivery() -> None:
    # GIVEN a source that delivers one event, and whose delivery puts an event on another source
    waiting = {"first": 1, "second": 0}
    delivered: list[str] = []

    def first() -> int:
        if waiting["first"]:
            waiting["first"] -= 1
            time.sleep(0.2)  # an invocation that, as it ends, makes work for "second"
            waiting["second"] += 1
            delivered.append("first")
            return 1
        return 0

    def second() -> int:
        if waiting["second"]:
            waiting["second"] -= 1
            delivered.append("second")
            return 1
        return 0

    pollers = Pollers({"first": first, "second": second})
    try:
        assert pollers.wait_quiet(timeout_s=10)
    finally:
        pollers.stop()
    assert delivered == ["first", "second"]


def test_a_poller_that_raises_ends_the_wait_with_its_error() -> None:
    def broken() -> int:
        raise RuntimeError("the emulator died")

    pollers = Pollers({"broken": broken})
    try:
        with pytest.raises(RuntimeError, match="the emulator died"):
            pollers.wait_quiet(timeout_s=5)
    finally:
        pollers.stop()


def test_the_view_stops_by_itself_when_idle() -> None:
    from flask import Flask

    from tracectl.view.server import serve

    app = Flask("idle")
    app.add_url_rule("/", "home", lambda: "ok")
    said: list[str] = []
    options = {"port": 0, "open_browser": False, "say": said.append, "idle_s": 0.5}
    thread = threading.Thread(target=serve, args=(app,), kwargs=options)
    thread.start()
    while "URL" not in app.config:
        time.sleep(0.01)
    assert urllib3.request("GET", app.config["URL"], retries=False).status == 200
    thread.join(timeout=10)
    assert not thread.is_alive() and said[-1].startswith("stopped: no request")
    with pytest.raises(urllib3.exceptions.HTTPError):
        urllib3.request("GET", app.config["URL"], retries=False, timeout=2)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--trace-file", "/nonexistent/traces.jsonl"], "/nonexistent/traces.jsonl does not exist"),
        (["--stack", "--stack-dir", "/nonexistent"], "no local pipeline is running"),
        (["--stack", "--jaeger", "http://127.0.0.1:1"], "--stack names both backends already"),
    ],
)
def test_view_says_in_one_line_what_is_wrong(args: list[str], says: str) -> None:
    result = CliRunner().invoke(main, ["view", "--no-browser", *args])
    assert result.exit_code == 2 and says in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_xrays_own_service_graph_becomes_edges_with_its_counts_and_its_node_types() -> None:
    import json

    from tests.trace_documents import FIXTURES
    from tracectl.traces import service_map

    services = json.loads((FIXTURES / "xray_service_graph.json").read_text())["Services"]
    edges, resources = service_map.from_xray_graph(services)
    by_pair = {(e.source, e.target): e for e in edges}
    # Lambda's service and function nodes share a name: the type tells them apart
    calls = by_pair[("ingest (AWS::Lambda)", "ingest (AWS::Lambda::Function)")]
    assert (calls.calls, calls.errors, calls.p50_ms) == (4, 0, 30.0)
    sns = by_pair[("ingest (AWS::Lambda::Function)", "ingest (AWS::SNS)")]
    assert (sns.calls, sns.errors) == (4, 2)  # errors (the throttle among them) and faults
    api = by_pair[("clients (client)", "Api/prod (AWS::ApiGateway::Stage)")]
    assert (api.p50_ms, api.p95_ms) == (40.0, 74.0)  # 40, 40, 40, 80 ms, interpolated as every percentile here
    assert resources == {"clients (client)", "Api/prod (AWS::ApiGateway::Stage)", "ingest (AWS::SNS)"}
    svg = service_map.render_svg(service_map.dot_source(edges, resources=resources))
    assert svg.count('class="node"') == 5 and svg.count('class="edge"') == 4


def test_span_events_read_the_same_from_the_sdk_and_both_jaeger_apis() -> None:
    from tracectl.traces.jaeger_source import from_api_v3, from_legacy

    def events(trace) -> dict:
        return {
            s.span_id: [(e.name, e.time_ns, sorted(e.attributes)) for e in s.events] for s in trace.spans if s.events
        }

    sdk = captured_sdk()
    [v3] = from_api_v3(captured("jaeger_v3.json")).values()
    [legacy] = from_legacy(captured("jaeger_legacy.json")).values()
    assert events(sdk) and events(sdk) == events(v3)
    # the legacy API keeps microseconds
    assert {k: [(n, t // 1000, a) for n, t, a in v] for k, v in events(sdk).items()} == {
        k: [(n, t // 1000, a) for n, t, a in v] for k, v in events(legacy).items()
    }


def test_a_delivery_wait_runs_from_the_send_ending_to_the_invocation_starting() -> None:
    from tracectl.traces.trace_model import Span, Trace
    from tracectl.view.catalog import delivery_waits

    def span(span_id: str, parent: str | None, service: str, kind: str, start_ms: int, end_ms: int) -> Span:
        return Span("a" * 32, span_id, parent, span_id, kind, service, start_ms * 10**6, end_ms * 10**6)

    trace = Trace(
        "a" * 32,
        [
            span("api", None, "ingest", "server", 0, 50),
            span("publish", "api", "ingest", "producer", 5, 20),
            span("delivered", "publish", "http", "consumer", 120, 130),  # 100 ms after the publish ended
            span("call", "delivered", "http", "client", 121, 125),  # same service: not a delivery
            span("overlaps", "publish", "sqs", "consumer", 15, 30),  # began before the publish ended
        ],
    )
    assert delivery_waits(trace) == {"delivered": 100.0}


def test_a_trace_of_aws_segments_alone_is_not_checked_through_the_pipeline() -> None:
    import json

    from tracectl.traces import pipeline_check
    from tracectl.traces.trace_model import group

    segments = AwsSegments(random.Random(5))
    lambda_invocation(segments, "sqs_subscriber", Header("1-6b154410-e11d55412afd26cc57e77a36", None, sampled=True))
    only_aws = group(spans_from_otlp_json(json.loads(as_trace_file_line(segments.documents()))))
    assert pipeline_check.check(only_aws, jaeger=None, xray_client=None, wait_s=0) == []


def test_a_waterfall_of_aws_segments_alone_draws_them() -> None:
    import json

    from rich.console import Console

    from tracectl.traces.trace_model import group
    from tracectl.traces.waterfall import waterfall

    segments = AwsSegments(random.Random(6))
    lambda_invocation(segments, "stream", Header("1-6b154410-e11d55412afd26cc57e77a37", None, sampled=True))
    [trace] = group(spans_from_otlp_json(json.loads(as_trace_file_line(segments.documents())))).values()
    console = Console(record=True, width=200)
    console.print(waterfall(trace))
    text = console.export_text()
    assert "Invocation" in text and "Overhead" in text and "segments AWS wrote" not in text
