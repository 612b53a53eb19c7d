"""`tracectl demo`: the whole app locally; N requests become N connected traces through every hop.

The demo runs the functions as `-c exporter=xray` deploys them (Active tracing, `xray-lambda`), each
under the Lambda runtime interface emulator with Lambda's trace header; `--to jaeger` runs
them as `-c exporter=jaeger` does (PassThrough, no Lambda header read), sending to a Jaeger.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from infra import topology
from tests.conftest import ROOT
from tracectl.cli import main
from tracectl.traces.service_map import resource_of
from tracectl.traces.trace_model import Span, Trace, load_jsonl

REQUESTS = 5
UPLOADS = 3
# The origins X-Ray's documentation gives the segments these services write themselves
API_STAGE, LAMBDA_SERVICE, LAMBDA_FUNCTION = "AWS::ApiGateway::Stage", "AWS::Lambda", "AWS::Lambda::Function"


@dataclass
class Run:
    exit_code: int
    output: str


def run_demo(out_dir: Path, *extra: str) -> tuple[Run, Path, Path]:
    # A process of its own, as a user runs it: moto keeps its state per process, and the
    # in-process tests have an emulator of their own.
    out, picture = out_dir / "traces.jsonl", out_dir / "map.svg"
    args = ["demo", "-n", str(REQUESTS), "--uploads", str(UPLOADS), "--seed", "7", "--fault-rate", "0.5"]
    args += ["--out", str(out), "--map", str(picture), *extra]
    completed = subprocess.run(
        [sys.executable, "-m", "tracectl.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    result = Run(completed.returncode, completed.stdout + completed.stderr)
    assert result.exit_code == 0, result.output
    return result, out, picture


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory, lambda_emulator: None) -> tuple[Run, Path, Path]:
    return run_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def jaeger_mode(tmp_path_factory: pytest.TempPathFactory, lambda_emulator: None) -> dict[str, Trace]:
    """The same demo as `-c exporter=jaeger` deploys the functions, sending to a stand-in Jaeger."""
    from tracectl.traces.otlp_receiver import OtlpReceiver

    out_dir = tmp_path_factory.mktemp("demo-jaeger")
    with OtlpReceiver(out_dir / "jaeger.jsonl") as jaeger:
        _, out, _ = run_demo(out_dir, "--to", "jaeger", "--jaeger-otlp", jaeger.endpoint)
    assert load_jsonl(out_dir / "jaeger.jsonl").keys() == load_jsonl(out).keys()  # every trace forwarded
    return load_jsonl(out)


@pytest.fixture(scope="module")
def all_traces(demo_run) -> dict[str, Trace]:
    return load_jsonl(demo_run[1])


def rooted_at(all_traces: dict[str, Trace], service: str) -> dict[str, Trace]:
    return {tid: t for tid, t in all_traces.items() if t.roots()[0].service == service}


def api_requests(all_traces: dict[str, Trace]) -> dict[str, Trace]:
    """Traces rooted at API Gateway's own segment (X-Ray modes)."""
    return {tid: t for tid, t in all_traces.items() if t.roots()[0].attributes.get("origin") == API_STAGE}


def written_by_aws(span: Span, origin: str) -> bool:
    return span.aws_created and span.attributes.get("origin") == origin


def under_lambdas_segments(trace: Trace, invocation: Span) -> Span:
    """The span Lambda's own segments hang from, checked on the way up: the invocation's parent is
    the function segment, whose parent is the service segment (both named after the function)."""
    by_id = {s.span_id: s for s in trace.spans}
    function = by_id[invocation.parent_id]
    assert written_by_aws(function, LAMBDA_FUNCTION) and function.name == invocation.service
    service = by_id[function.parent_id]
    assert written_by_aws(service, LAMBDA_SERVICE) and service.name == invocation.service
    return by_id[service.parent_id]


@pytest.fixture(scope="module")
def traces(all_traces) -> dict[str, Trace]:
    """The API requests' traces."""
    return api_requests(all_traces)


def spans_of(trace: Trace, service: str, kind: str | None = None) -> list:
    return [s for s in trace.spans if s.service == service and (kind is None or s.kind == kind)]


def test_n_requests_make_exactly_n_traces_each_with_one_root_reaching_every_span(all_traces, traces) -> None:
    assert len(traces) == REQUESTS
    for trace in traces.values():
        # X-Ray mode: the root is the segment API Gateway writes, as in the console
        [root] = trace.roots()
        assert written_by_aws(root, API_STAGE) and root.parent_id is None and root.name == "Api/prod"
        assert trace.reachable_from(root) == {s.span_id for s in trace.spans}
        [integration] = trace.children(root.span_id)
        assert (integration.name, integration.attributes["namespace"]) == ("Lambda", "aws")
        [handler] = [s for s in spans_of(trace, "ingest", "server") if not s.aws_created]
        assert under_lambdas_segments(trace, handler) == integration
        # Lambda writes its two segments for every invocation of every function in the request
        invoked = {s.service for s in trace.spans if "faas.trigger" in s.attributes and not s.aws_created}
        for origin in (LAMBDA_SERVICE, LAMBDA_FUNCTION):
            assert {s.name for s in trace.spans if written_by_aws(s, origin)} >= invoked - {"sqs_subscriber", "stream"}
    # besides them: one trace per upload (S3 handed the uploader's header to the function), and the
    # traces Lambda starts for SQS and stream invocations (rooted at its own segment; the function's
    # spans continue each record's trace instead, where the record carries one)
    started_by_lambda = {tid: t for tid, t in all_traces.items() if written_by_aws(t.roots()[0], LAMBDA_SERVICE)}
    assert {t.roots()[0].service for t in started_by_lambda.values()} == {"sqs_subscriber", "stream"}
    assert len(all_traces) == REQUESTS + UPLOADS + len(started_by_lambda)


def test_every_upload_is_one_trace_from_the_uploaders_span_to_the_dynamodb_write(all_traces) -> None:
    uploads = rooted_at(all_traces, "uploader")
    assert len(uploads) == UPLOADS
    for trace in uploads.values():
        [root] = trace.roots()
        assert (root.name, root.kind) == ("uploads upload", "producer")
        assert trace.reachable_from(root) == {s.span_id for s in trace.spans}
        # S3 gave Lambda the PutObject's X-Ray header: Lambda's segments hang from the uploader's span
        [invocation] = [s for s in spans_of(trace, "upload", "server") if not s.aws_created]
        assert under_lambdas_segments(trace, invocation) == root
        assert invocation.attributes["faas.trigger"] == "datasource"
        [record] = [s for s in spans_of(trace, "upload", "consumer")]
        assert record.parent_id == invocation.span_id  # the object's metadata names the same trace
        [write] = [s for s in spans_of(trace, "upload", "client") if s.name == "DynamoDB.UpdateItem"]
        assert write.parent_id == record.span_id


def test_in_jaeger_mode_an_upload_invocation_is_its_own_root_linked_from_the_record(jaeger_mode) -> None:
    # PassThrough and no `xray-lambda`: nothing but the object's metadata carries the uploader's context
    uploads, invocations = rooted_at(jaeger_mode, "uploader"), rooted_at(jaeger_mode, "upload")
    assert len(uploads) == len(invocations) == UPLOADS
    invocation_ids = {t.roots()[0].span_id for t in invocations.values()}
    for trace in uploads.values():
        [root] = trace.roots()
        [record] = [s for s in spans_of(trace, "upload", "consumer")]
        assert record.parent_id == root.span_id
        assert record.links and {span_id for _, span_id in record.links} <= invocation_ids
    for trace in invocations.values():
        [root] = trace.roots()
        assert root.attributes["faas.trigger"] == "datasource" and not root.links and root.parent_id is None


def test_in_jaeger_mode_each_request_is_one_trace_rooted_at_the_api_span(jaeger_mode) -> None:
    traces = rooted_at(jaeger_mode, "ingest")
    assert len(traces) == REQUESTS
    for trace in traces.values():
        [root] = trace.roots()
        assert root.parent_id is None  # no orphan: no X-Ray parent is read in Jaeger mode
        assert trace.reachable_from(root) == {s.span_id for s in trace.spans}


def test_every_trace_crosses_every_hop(traces) -> None:
    for trace in traces.values():
        touched = {resource_of(s) for s in trace.spans if s.kind in ("producer", "client")}
        assert {"SNS ingest", "SNS fanout", "SQS work", "DynamoDB hits", "EventBridge"} <= touched, trace.trace_id
        for function in ("dynamo", "http", "sqs", "sns", "sns_subscriber", "audit"):
            assert any(s.kind == "consumer" and "faas.trigger" in s.attributes for s in spans_of(trace, function)), (
                f"{function} missing in {trace.trace_id}"
            )
        assert spans_of(trace, "sqs_subscriber", "consumer"), f"no SQS consume in {trace.trace_id}"
        assert spans_of(trace, "stream", "consumer"), f"no DynamoDB stream record in {trace.trace_id}"
        http_invocations = [s for s in spans_of(trace, "http", "consumer") if "faas.trigger" in s.attributes]
        outbound = [s for s in spans_of(trace, "http", "client") if s.attributes.get("url.full")]
        # an outbound call exactly when some attempt was not a deliberate fault
        assert len(outbound) == sum(not s.error for s in http_invocations)


def test_trace_ids_are_fresh_xray_ids(traces) -> None:
    for trace_id in traces:
        assert time.time() - 600 <= int(trace_id[:8], 16) <= time.time() + 1


def test_cold_start_is_true_exactly_once_per_function(all_traces) -> None:
    cold: dict[str, int] = {}
    for trace in all_traces.values():
        for span in trace.spans:
            if span.attributes.get("faas.coldstart") is True:
                cold[span.service] = cold.get(span.service, 0) + 1
    assert cold == {f.name: 1 for f in topology.FUNCTIONS}


def test_faults_are_errors_on_the_http_span_retried_and_the_trace_still_connects(traces, demo_run) -> None:
    faulted = [t for t in traces.values() if any(s.error for s in spans_of(t, "http"))]
    assert faulted, "seed 7 at fault rate 0.5 must fault at least once"
    for trace in faulted:
        [root] = trace.roots()
        assert trace.reachable_from(root) == {s.span_id for s in trace.spans}
        for span in spans_of(trace, "http", "consumer"):
            if span.error:
                assert span.attributes["fault_injected"] is True
                assert "CERTIFICATE_VERIFY_FAILED" in span.status_message
    result = demo_run[0]
    assert "a faulted request" in result.output


def test_what_the_user_sees(demo_run) -> None:
    result, out, picture = demo_run
    for expected in ("summary", "requests", "traces", "spans", "service map", "a request: trace", str(out)):
        assert expected in result.output
    for node in ("API Gateway", "SNS ingest", "SNS fanout", "SQS work", "DynamoDB hits", "EventBridge", "S3 uploads"):
        assert node in result.output
    svg = picture.read_text()
    assert svg.startswith("<?xml") and "<svg" in svg
    lines = [
        json.loads(line)
        for line in (out.parent / "logs" / "ingest.log").read_text().splitlines()
        if line.startswith("{")
    ]
    published = [line for line in lines if line["message"] == "published"]
    assert len(published) == REQUESTS
    # logs join traces: both id forms, the request id, cold start on the first invocation only
    assert {line["trace_id"] for line in published} == set(api_requests(load_jsonl(out)))
    assert all(line["xray_trace_id"] == f"1-{line['trace_id'][:8]}-{line['trace_id'][8:]}" for line in published)
    assert [line["cold_start"] for line in published] == [True] + [False] * (REQUESTS - 1)
    assert len({line["request_id"] for line in published}) == REQUESTS
    assert {line["function_name"] for line in published} == {"ingest"}


def test_traces_show_json_round_trips_the_file(all_traces, demo_run) -> None:
    traces = all_traces
    out = demo_run[1]
    trace_id, trace = next(iter(traces.items()))
    xray_id = f"1-{trace_id[:8]}-{trace_id[8:]}"
    result = CliRunner().invoke(main, ["traces", "show", xray_id, "--file", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert Trace.from_json(json.loads(result.output)).to_json() == trace.to_json()
    shortest = next(n for n in range(1, 33) if sum(t.startswith(trace_id[:n]) for t in traces) == 1)
    for prefix in (trace_id[:shortest], f"1-{trace_id[:8]}-{trace_id[8:max(shortest, 9)]}"):  # as pasted
        by_prefix = CliRunner().invoke(main, ["traces", "show", prefix, "--file", str(out), "--json"])
        assert json.loads(by_prefix.output)["trace_id"] == trace_id, prefix
    listing = CliRunner().invoke(main, ["traces", "list", "--file", str(out), "--json"])
    assert [json.loads(line)["trace_id"] for line in listing.output.splitlines()] == list(traces)


def test_traces_show_rejects_unknown_and_malformed_ids(demo_run) -> None:
    out = str(demo_run[1])
    missing = CliRunner().invoke(main, ["traces", "show", "f" * 32, "--file", out])
    assert missing.exit_code == 1 and "no trace matches" in missing.output
    malformed = CliRunner().invoke(main, ["traces", "show", "1-nothex-zz", "--file", out])
    assert malformed.exit_code == 2 and "not an X-Ray trace id" in malformed.output


def test_the_jaeger_sink_with_nothing_listening_fails_fast_with_the_fix() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    result = CliRunner().invoke(main, ["demo", "--to", "jaeger", "--jaeger-otlp", f"http://127.0.0.1:{port}"])
    assert result.exit_code == 2
    assert "docker compose up -d" in result.output
    assert time.monotonic() - started < 5


@pytest.mark.live
def test_demo_traces_reach_docker_compose_jaeger(tmp_path) -> None:
    import urllib3

    from tracectl.commands.demo import listening as _listening

    if not _listening("http://127.0.0.1:4318"):
        pytest.skip("needs `docker compose up -d` (Jaeger + collector on 127.0.0.1:4318/16686): no Docker engine here")
    out = tmp_path / "traces.jsonl"
    result = CliRunner().invoke(main, ["demo", "-n", "3", "--to", "jaeger", "--out", str(out)])
    assert result.exit_code == 0, result.output
    http = urllib3.PoolManager()
    for trace_id, trace in load_jsonl(out).items():
        for _ in range(30):
            response = http.request("GET", f"http://127.0.0.1:16686/api/v3/traces/{trace_id}")
            if response.status == 200:
                break
            time.sleep(1)
        body = json.loads(response.data)
        spans = [s for rs in body["result"]["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
        assert len(spans) == len(trace.spans)
