"""The real pipeline end to end: handlers → the collector built from the ADOT layer's components,
running collector/*.yaml → Jaeger v2 (query API) and X-Ray (the emulator's API, BatchGetTraces).

Needs `.tools/bin/{otelcol-lambda,jaeger}` (`make tools`, which needs Go). Without them these
tests skip with one reason; with TRACECTL_REQUIRE_E2E=1 (set by .ci/run) they fail instead.
The app runs in a process of its own (tests/pipeline_scenario.py): moto keeps its state per
process and the in-process tests have an emulator of their own.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import urllib3
import yaml
from click.testing import CliRunner

from functions.tracing import to_xray_id
from infra.config import EXPORTERS
from tests.conftest import ROOT, require_tools
from tests.test_view import depths, rows, tracectl_view
from tests.trace_documents import flattened
from tracectl import tools
from tracectl.cli import main
from tracectl.emulation import span_record
from tracectl.emulator_identity import FAKE_CREDENTIALS, REGION
from tracectl.pipeline.local_pipeline import DEPLOYED_JAEGER_CONFIG, Endpoints, LocalPipeline
from tracectl.traces import pipeline_check, xray_conversion, xray_source
from tracectl.traces.compare import compare
from tracectl.traces.jaeger_source import JaegerSource
from tracectl.traces.trace_model import Trace, load_jsonl

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]
FIXTURES = ROOT / "tests" / "fixtures" / "captured"
# What the README promises: a dead or black-holed backend holds an invocation for at most the
# SDK's export timeout (2 s), plus the handler's own work. One second of slack for this machine.
FLUSH_BOUND_S = 2.0
SLACK_S = 1.0


@pytest.fixture(scope="module", autouse=True)
def real_parts() -> None:
    require_tools(*tools.TOOLS, needed_for="the real pipeline")


@dataclass
class Scenario:
    traces: dict[str, Trace]
    """What the SDK finished (every worker's span record)."""
    result: dict


def run_app(tmp: Path, otlp: str, **spec) -> Scenario:
    record = tmp / "record"
    record.mkdir(parents=True, exist_ok=True)
    spec_file, out_file = tmp / "spec.json", tmp / "out.json"
    spec_file.write_text(json.dumps({"otlp": otlp, "record": str(record), "work_dir": str(tmp), **spec}))
    completed = subprocess.run(
        [sys.executable, "tests/pipeline_scenario.py", str(spec_file), str(out_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1100,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    merged = tmp / "sdk.jsonl"
    merged.write_text(span_record.read(record))
    return Scenario(load_jsonl(merged), json.loads(out_file.read_text()))


def xray_client(endpoints: Endpoints):
    return xray_source.xray_client(emulator=endpoints.aws_endpoint)


def segment_documents(endpoints: Endpoints, trace_id: str) -> list[dict]:
    traces = xray_client(endpoints).batch_get_traces(TraceIds=[to_xray_id(trace_id)])["Traces"]
    return [json.loads(s["Document"]) for t in traces for s in t["Segments"]]


# --- the shipped configs load in the real collector -------------------------------------------


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_every_shipped_config_passes_the_built_collectors_validate(exporter: str) -> None:
    completed = subprocess.run(
        [str(tools.binary(tools.COLLECTOR)), "validate", "--config", str(ROOT / "collector" / f"{exporter}.yaml")],
        env={"PATH": os.environ["PATH"], "JAEGER_ENDPOINT": "https://jaeger.example.com:4318", "AWS_REGION": REGION},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr


def test_the_built_collector_lacks_what_the_layer_lacks(tmp_path: Path) -> None:
    # GIVEN xray.yaml with a batch processor added: the ADOT layer has no processors at all
    config = (ROOT / "collector" / "xray.yaml").read_text().replace(
        "      exporters: [awsxray]", "      processors: [batch]\n      exporters: [awsxray]"
    ) + "\nprocessors:\n  batch: {}\n"
    (tmp_path / "with-batch.yaml").write_text(config)
    completed = subprocess.run(
        [str(tools.binary(tools.COLLECTOR)), "validate", "--config", str(tmp_path / "with-batch.yaml")],
        env={"PATH": os.environ["PATH"], "AWS_REGION": REGION},
        capture_output=True,
        text=True,
        timeout=60,
    )
    # THEN the twin of the layer refuses it, as the layer would at cold start
    assert completed.returncode != 0
    assert "batch" in completed.stderr


# --- one run of the whole app through both.yaml ------------------------------------------------


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Endpoints, Scenario, list]]:
    tmp = tmp_path_factory.mktemp("e2e-both")
    with LocalPipeline("both", work_dir=tmp / "stack") as stack:
        assert stack.endpoints is not None
        scenario = run_app(
            tmp, stack.endpoints.otlp_http, requests=8, fault_rate=0.5, seed=11, xray=stack.endpoints.aws_endpoint
        )
        checks = pipeline_check.check(
            scenario.traces, jaeger=JaegerSource(stack.endpoints.jaeger_query), xray_client=xray_client(stack.endpoints)
        )
        if os.environ.get("TRACECTL_RECAPTURE") == "1":
            capture(stack.endpoints, scenario, tmp)
        yield stack.endpoints, scenario, checks


def capture(endpoints: Endpoints, scenario: Scenario, tmp: Path) -> None:
    """Refresh tests/fixtures/captured/ from the real backends: one faulted trace as each holds it."""
    import urllib3

    trace_id = next(t for t, trace in scenario.traces.items() if trace.has_error)
    FIXTURES.mkdir(parents=True, exist_ok=True)
    recorded = (tmp / "sdk.jsonl").read_text().splitlines()
    lines = [line for line in recorded if _trace_ids(json.loads(line)) == {trace_id}]  # one span per line
    (FIXTURES / "sdk_spans.jsonl").write_text("\n".join(lines) + "\n")
    (FIXTURES / "xray_segments.json").write_text(json.dumps(segment_documents(endpoints, trace_id), indent=1))
    paths = {"jaeger_v3.json": f"/api/v3/traces/{trace_id}", "jaeger_legacy.json": f"/api/traces/{trace_id}"}
    for name, path in paths.items():
        body = json.loads(urllib3.request("GET", endpoints.jaeger_query + path).data)
        (FIXTURES / name).write_text(json.dumps(body, indent=1))


def _trace_ids(document: dict) -> set[str]:
    return {s["traceId"] for rs in document["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]}


def test_the_app_ran_as_asked(both) -> None:
    _, scenario, _ = both
    assert len(scenario.traces) == 8  # one trace per API request
    assert set(scenario.result["statuses"]) == {200}
    assert scenario.result["function_errors"].get("http", 0) > 0  # the deliberate faults happened
    assert set(scenario.result["function_errors"]) <= {"http"}


def test_every_span_the_sdk_finished_reaches_jaeger_and_xray(both) -> None:
    _, scenario, checks = both
    for check in checks:
        assert check.jaeger_spans == check.sdk_spans == len(scenario.traces[check.trace_id].spans), check.verdict
        assert check.xray_spans == check.sdk_spans, check.verdict
    assert sum(c.sdk_spans for c in checks) > 8 * 10  # every hop, not just the API span


def test_xray_holds_segments_as_the_console_shows_them(both) -> None:
    endpoints, scenario, _ = both
    for trace_id, trace in scenario.traces.items():
        documents = flattened(segment_documents(endpoints, trace_id))
        for span in trace.spans:
            doc = documents[span.span_id]  # every function span is a segment or a subsegment
            assert doc["trace_id"] == to_xray_id(trace_id)
            if span.parent_id:
                assert doc.get("parent_id") == span.parent_id or doc["id"] in _children_ids(documents, span.parent_id)
            if span.attributes.get("rpc.system") == "aws-api":  # botocore: an `aws` subsegment with the operation
                assert doc["namespace"] == "aws"
                assert doc["aws"]["operation"] == span.attributes["rpc.method"]
            for key in span.attributes.get("aws.xray.annotations", ()):  # annotations, not metadata
                assert key in doc.get("annotations", {}), (span.name, key)
                assert key not in doc.get("metadata", {}).get("default", {})
            if span.service == "http" and span.error:  # the deliberate fault, with its cause
                assert doc["fault"] is True
                [exception] = doc["cause"]["exceptions"]
                assert "CERTIFICATE_VERIFY_FAILED" in exception["message"]
                assert exception["type"].endswith("DeliberateFault")
            if span.kind == "server":  # the API span: the segment's http block
                assert doc["http"]["request"]["method"] == "GET"
                assert doc["http"]["request"]["url"].endswith(span.attributes["url.path"])
                assert doc["http"]["response"]["status"] == 200


def test_in_xray_a_request_has_one_root_with_the_segments_aws_writes_itself(both) -> None:
    endpoints, scenario, _ = both
    held = xray_source.fetch(xray_client(endpoints), list(scenario.traces))
    for trace_id, sdk in scenario.traces.items():
        trace = held[trace_id]
        [root] = trace.roots()  # API Gateway's stage segment, as in the console
        assert root.aws_created and root.attributes["origin"] == "AWS::ApiGateway::Stage" and root.parent_id is None
        assert trace.reachable_from(root) == {s.span_id for s in trace.spans}
        origins = {s.attributes.get("origin") for s in trace.spans if s.aws_created}
        assert {"AWS::Lambda", "AWS::Lambda::Function"} <= origins
        # the handler's span hangs under Lambda's function segment for it
        [handler] = [s for s in sdk.spans if s.kind == "server" and s.service == "ingest"]
        parent = next(s for s in trace.spans if s.span_id == handler.parent_id)
        assert parent.attributes["origin"] == "AWS::Lambda::Function" and parent.name == "ingest"


def test_the_views_xray_conversion_writes_what_the_real_exporter_wrote(both) -> None:
    """tracectl/traces/xray_conversion.py against the collector's awsxray exporter, span by span."""
    endpoints, scenario, _ = both
    config = yaml.safe_load((ROOT / "collector" / "both.yaml").read_text())
    indexed = config["exporters"]["awsxray"]["indexed_attributes"]
    for trace_id, trace in scenario.traces.items():
        real = flattened(segment_documents(endpoints, trace_id))
        for ours in xray_conversion.segment_documents(trace, indexed):
            theirs = real[ours["id"]]
            assert ours["name"] == theirs["name"], ours["id"]
            assert ours.get("type") == theirs.get("type"), ours["name"]
            assert ours.get("namespace") == (theirs.get("namespace") or None), ours["name"]
            assert ours.get("parent_id") == (theirs.get("parent_id") or None), ours["name"]
            for flag in ("error", "fault", "throttle"):
                assert bool(ours.get(flag)) == bool(theirs.get(flag)), (ours["name"], flag)
            assert set(ours.get("annotations", {})) == set(theirs.get("annotations", {})), ours["name"]
            assert ours.get("http", {}).get("response") == _status_only(theirs), ours["name"]


def test_the_view_shows_the_real_pipelines_traces_from_xray_and_jaeger(both, page) -> None:
    from tracectl.commands.options import pipeline_catalog
    from tracectl.view.app import create_app
    from tracectl.view.server import running

    endpoints, scenario, _ = both
    app = create_app(*pipeline_catalog(json.loads(endpoints.to_json())))
    in_xray = xray_source.fetch(xray_client(endpoints), list(scenario.traces))
    with running(app):
        url = app.config["URL"]
        page.goto(url)
        found_in = dict(
            page.eval_on_selector_all(
                "tbody tr[data-trace]", "rows => rows.map(r => [r.dataset.trace, r.cells[7].textContent])"
            )
        )
        assert {t: found_in.get(t) for t in scenario.traces} == dict.fromkeys(scenario.traces, "both")
        for trace_id in list(scenario.traces)[:2]:
            page.goto(f"{url}traces/{trace_id}")
            assert rows(page, "xray") == depths(in_xray[trace_id].spans)
            in_jaeger = JaegerSource(endpoints.jaeger_query).fetch(trace_id)
            assert in_jaeger is not None and rows(page, "jaeger") == depths(in_jaeger.spans)
            assert page.locator(".verdict").inner_text().startswith("expected differences only")


def _status_only(document: dict) -> dict | None:
    status = document.get("http", {}).get("response", {}).get("status")
    return {"status": status} if status is not None else None


def _children_ids(documents: dict[str, dict], parent: str) -> set[str]:
    return {sub["id"] for sub in documents[parent].get("subsegments", [])} if parent in documents else set()


def test_the_same_trace_in_both_backends_compares_clean_through_the_cli(both) -> None:
    endpoints, scenario, checks = both
    assert scenario.traces and len(checks) == len(scenario.traces)  # nothing to pass vacuously
    env = {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": endpoints.aws_endpoint, "AWS_REGION": REGION}
    for trace_id in scenario.traces:
        # the X-Ray form of the id finds the same trace in both
        result = CliRunner(env=env).invoke(
            main, ["compare", to_xray_id(trace_id), "--xray", "--jaeger", endpoints.jaeger_query, "--json"]
        )
        assert result.exit_code == 0, result.output
        verdict = json.loads(result.output)
        assert verdict["trace_id"] == trace_id
        assert verdict["matched_spans"] == len(scenario.traces[trace_id].spans)
    assert all(c.ok for c in checks)


def test_the_sdks_record_and_jaeger_hold_identical_spans(both) -> None:
    endpoints, scenario, _ = both
    trace_id = next(iter(scenario.traces))
    jaeger = JaegerSource(endpoints.jaeger_query).fetch(trace_id)
    assert jaeger is not None
    comparison = compare(scenario.traces[trace_id], jaeger, "SDK", "Jaeger")
    assert comparison.verdict == "identical", [d.what for d in comparison.differences]


# --- no span lost to size -----------------------------------------------------------------------

GIANT = 1_000_000
XRAY_SEGMENT_LIMIT = 64 * 1024


def test_a_1mb_attribute_still_delivers_its_span_truncated_to_both_backends(tmp_path: Path) -> None:
    # GIVEN a traced handler that sets a 1 MB attribute, in a process with a function's environment
    from infra.config import TracerConfig
    from infra.exporter_profile import tracing_environment

    code = (
        "from opentelemetry import trace\n"
        "from functions.tracing import current_trace_ids, traced\n"
        "from tests.events import LocalContext\n"
        "@traced\n"
        "def handler(event, context):\n"
        f"    trace.get_current_span().set_attribute('payload', 'x' * {GIANT})\n"
        "    return current_trace_ids()[0]\n"
        "print(handler({}, LocalContext('giant')))\n"
    )
    with LocalPipeline("both", work_dir=tmp_path / "stack") as stack:
        assert stack.endpoints is not None
        config = TracerConfig(exporter="jaeger", jaeger_endpoint=stack.endpoints.jaeger_otlp)
        env = {
            "PATH": os.environ["PATH"],
            **tracing_environment(config, "giant"),
            "OTEL_EXPORTER_OTLP_ENDPOINT": stack.endpoints.otlp_http,
            "AWS_LAMBDA_FUNCTION_NAME": "giant",
            "AWS_REGION": REGION,
            "PYTHONPATH": str(ROOT),
        }
        # WHEN it runs and flushes through the real collector (both.yaml)
        completed = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert completed.returncode == 0, completed.stderr
        trace_id = completed.stdout.split()[-1]
        jaeger = wait_for(lambda: JaegerSource(stack.endpoints.jaeger_query).fetch(trace_id))
        documents = segment_documents(stack.endpoints, trace_id)
    # THEN Jaeger holds the span, the value cut to the span attribute limit
    [span] = jaeger.spans
    assert span.attributes["payload"] == "x" * 1024
    # AND X-Ray holds it as one segment under its 64 KB limit, the value cut the same way
    [segment] = documents
    assert len(json.dumps(segment)) < XRAY_SEGMENT_LIMIT
    assert segment["metadata"]["default"]["payload"] == "x" * 1024


def wait_for(read, timeout_s: float = 30.0):
    """read() until it returns something, or fail after timeout_s."""
    import time

    deadline = time.monotonic() + timeout_s
    while (found := read()) is None:
        assert time.monotonic() < deadline, f"nothing after {timeout_s:.0f} s"
        time.sleep(0.2)
    return found


# --- faults, through the real collector --------------------------------------------------------


class BlackHole:
    """Accepts connections and never answers: a backend that hangs."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._held: list[socket.socket] = []
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self._held.append(connection)

    def close(self) -> None:
        self._stopped.set()
        self._socket.close()
        for connection in self._held:
            connection.close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


INVOCATIONS = 20


def assert_bounded(scenario: Scenario, label: str) -> float:
    """Every API request (its handler's work + export) ended within the bound, and no warm response
    waited for the export (it leaves after the response); returns the max."""
    seconds, responded = scenario.result["seconds"], scenario.result["responded"]
    assert len(seconds) == len(responded) == INVOCATIONS
    assert set(scenario.result["statuses"]) == {200}, f"{label}: a handler failed"
    worst = max(seconds)
    print(
        f"\n{label}: environment held max {worst:.2f} s, median {sorted(seconds)[len(seconds) // 2]:.2f} s; "
        f"response max {max(responded):.3f} s (warm {max(responded[1:]):.3f} s), "
        f"median {sorted(responded)[len(responded) // 2]:.3f} s over {len(seconds)}"
    )
    assert worst <= FLUSH_BOUND_S + SLACK_S, f"{label}: an invocation took {worst:.2f} s"
    assert max(responded[1:]) < 1.0, f"{label}: a warm response waited {max(responded[1:]):.2f} s"
    return worst


_UNCONFIRMED = re.compile(r"shutting down: the backend did not confirm (\d+) spans")


def assert_only_the_tail_may_wait(tmp: Path, checks: list, delivered: list[int | None]) -> None:
    """The healthy backend has every span, but those a function said it could not deliver at shutdown.

    The collector answers an error when either backend fails, so the functions' breaker opens and
    keeps their spans; probes deliver them (twice to the healthy backend: it keeps one) while
    invocations go on, and what is still kept leaves at shutdown within Lambda's 500 ms, which a
    collector waiting on a dead backend may not answer in. Each function counts those in its log."""
    lost = sum(c.sdk_spans - (got or 0) for c, got in zip(checks, delivered, strict=True))
    said = sum(int(n) for log in (tmp / "logs").glob("*.log") for n in _UNCONFIRMED.findall(log.read_text()))
    assert lost <= said, [c.verdict for c in checks if c.lost]
    assert delivered[0] == checks[0].sdk_spans  # the first export reached it through the collector


def test_a_healthy_pipeline_never_holds_an_invocation_for_a_retry(tmp_path: Path) -> None:
    # The twin of the fault tests below, in the same harness: no export fails, so no warm
    # invocation pays the SDK's retry backoff (≈ 1 s). The first one is a cold start (boto3 loads
    # the SNS model, first connections): up to ~1 s on a busy machine, so it is left out.
    with LocalPipeline("both", work_dir=tmp_path / "stack") as stack:
        assert stack.endpoints is not None
        scenario = run_app(tmp_path, stack.endpoints.otlp_http, requests=INVOCATIONS, pump=False)
    assert_bounded(scenario, "both.yaml, healthy")
    warm = scenario.result["seconds"][1:]
    print(f"healthy: first {scenario.result['seconds'][0]:.2f} s, warm max {max(warm):.2f} s")
    assert max(warm) < 1.0


@pytest.mark.parametrize("jaeger_fault", ["refused", "black-holed"])
def test_a_dead_jaeger_bounds_each_flush_and_xray_still_gets_every_span(tmp_path: Path, jaeger_fault: str) -> None:
    hole = BlackHole() if jaeger_fault == "black-holed" else None
    try:
        jaeger_otlp = hole.url if hole else closed_port_url()
        with LocalPipeline("both", work_dir=tmp_path / "stack", jaeger_otlp=jaeger_otlp) as stack:
            assert stack.endpoints is not None
            scenario = run_app(tmp_path, stack.endpoints.otlp_http, requests=INVOCATIONS, pump=False)
            assert_bounded(scenario, f"both.yaml, Jaeger {jaeger_fault}")
            checks = pipeline_check.check(scenario.traces, jaeger=None, xray_client=xray_client(stack.endpoints))
    finally:
        if hole:
            hole.close()
    assert len(checks) == INVOCATIONS
    assert_only_the_tail_may_wait(tmp_path, checks, [c.xray_spans for c in checks])


def test_a_dead_xray_bounds_each_flush_and_jaeger_still_gets_every_span(tmp_path: Path) -> None:
    with LocalPipeline("both", work_dir=tmp_path / "stack", xray_endpoint=closed_port_url()) as stack:
        assert stack.endpoints is not None
        scenario = run_app(tmp_path, stack.endpoints.otlp_http, requests=INVOCATIONS, pump=False)
        assert_bounded(scenario, "both.yaml, X-Ray refused")
        jaeger = JaegerSource(stack.endpoints.jaeger_query)
        checks = pipeline_check.check(scenario.traces, jaeger=jaeger, xray_client=None)
    assert len(checks) == INVOCATIONS
    assert_only_the_tail_may_wait(tmp_path, checks, [c.jaeger_spans for c in checks])


def test_a_dead_collector_never_fails_a_handler(tmp_path: Path) -> None:
    scenario = run_app(tmp_path, closed_port_url(), requests=INVOCATIONS, pump=False)
    assert_bounded(scenario, "collector down")


# --- the deployed Jaeger's config and ingest auth, run locally ----------------------------------
# The module proxy serves Jaeger v2.13 while the Jaeger stack deploys 2.20: these prove the config's
# shape and the basicauth receiver; SigV4 writes to OpenSearch need 2.20 and a domain, neither here.


def jaeger_task_environment(config_text: str) -> dict[str, str]:
    """What the Jaeger stack's task definition sets, with stand-in values (credentials: placeholders)."""
    return {
        "PATH": os.environ["PATH"],
        "JAEGER_CONFIG": config_text,
        "OPENSEARCH_URL": "https://vpc-traces-abc.us-east-1.es.amazonaws.com",
        "OPENSEARCH_REPLICAS": "0",
        "AWS_REGION": REGION,
        "OTLP_USERNAME": "otlp",
        "OTLP_PASSWORD": "placeholder",
        **FAKE_CREDENTIALS,  # the sigv4 extension resolves credentials at start; no instance metadata here
    }


def test_the_deployed_jaeger_config_passes_the_built_jaegers_validate() -> None:
    def validate(config_text: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(tools.binary(tools.JAEGER)), "validate", "--config=env:JAEGER_CONFIG"],
            env=jaeger_task_environment(config_text),
            capture_output=True,
            text=True,
            timeout=60,
        )

    shipped = DEPLOYED_JAEGER_CONFIG.read_text()
    assert validate(shipped).returncode == 0, validate(shipped).stderr
    # the check can fail: a key this Jaeger does not know is refused (what `validate` checks is every
    # key and component; an authenticator's name resolves only at start: the next test starts it)
    broken = validate(shipped.replace("enable_tracing: false", "enable_traces: false"))
    assert broken.returncode != 0 and "invalid keys: enable_traces" in broken.stderr


def test_the_deployed_jaegers_ingest_refuses_without_the_credentials_and_keeps_what_has_them(
    tmp_path: Path,
) -> None:
    password = secrets.token_urlsafe(24)
    with LocalPipeline("jaeger", work_dir=tmp_path / "stack", ingest_credentials=("otlp", password)) as stack:
        endpoints = stack.endpoints
        assert endpoints is not None and endpoints.jaeger_health is not None
        http = urllib3.PoolManager(timeout=urllib3.Timeout(total=5.0), retries=False)
        # GIVEN Jaeger as the Jaeger stack runs it: its load balancer's health check answers
        assert http.request("GET", endpoints.jaeger_health).status == 200

        # WHEN OTLP arrives without credentials, with wrong ones, with the right ones
        def post(headers: dict[str, str]) -> int:
            headers = {"Content-Type": "application/x-protobuf", **headers}
            return http.request("POST", f"{endpoints.jaeger_otlp}/v1/traces", body=b"", headers=headers).status

        wrong = urllib3.util.make_headers(basic_auth="otlp:not-the-password")
        right = urllib3.util.make_headers(basic_auth=f"otlp:{password}")
        # THEN only the right ones get in
        assert (post({}), post(wrong), post(right)) == (401, 401, 200)

        # AND the functions' spans, sent by the collector running collector/jaeger.yaml with the
        # header in JAEGER_AUTHORIZATION, arrive whole: tracectl compare finds them as the SDK made them
        scenario = run_app(tmp_path, endpoints.otlp_http, exporter="jaeger", requests=2, pump=False)
        assert len(scenario.traces) == 2
        for trace_id in scenario.traces:
            result = CliRunner().invoke(
                main, ["compare", trace_id, "--local", str(tmp_path / "sdk.jsonl"), "--jaeger", endpoints.jaeger_query]
            )
            assert result.exit_code == 0, result.output
    assert password not in (tmp_path / "stack" / "collector.log").read_text()


# --- soak ---------------------------------------------------------------------------------------

SOAK_ROUNDS, SOAK_REQUESTS = 10, 100


def test_soak_1000_requests_lose_no_span_and_no_worker_grows(tmp_path: Path) -> None:
    with LocalPipeline("both", work_dir=tmp_path / "stack") as stack:
        assert stack.endpoints is not None
        scenario = run_app(
            tmp_path, stack.endpoints.otlp_http, rounds=SOAK_ROUNDS, requests=SOAK_REQUESTS, fault_rate=0.2, seed=5
        )
        checks = pipeline_check.check(
            scenario.traces,
            jaeger=JaegerSource(stack.endpoints.jaeger_query),
            xray_client=xray_client(stack.endpoints),
            wait_s=120,
        )
    result = scenario.result
    spans = sum(c.sdk_spans for c in checks)
    rss = result["rss_kib"]
    growth = {name: rss[-1][name] / rss[0][name] for name in rss[0]}
    print(
        f"\nsoak: {len(checks)} traces, {spans} spans, lost {sum(c.lost for c in checks)}; "
        f"invocations {sum(result['invocations'].values())}, function errors {result['function_errors']}, "
        f"dead letters {result['dead_letters']}; runtime RSS after warm-up → end (KiB): "
        + ", ".join(f"{n} {rss[0][n]}→{rss[-1][n]} (x{growth[n]:.3f})" for n in sorted(growth))
    )
    assert len(checks) == SOAK_ROUNDS * SOAK_REQUESTS
    assert sum(c.lost for c in checks) == 0
    assert all(c.ok for c in checks), [c.verdict for c in checks if not c.ok][:5]
    assert set(result["statuses"]) == {200}
    assert set(result["function_errors"]) <= {"http"}  # only the deliberate faults
    assert growth and all(g <= 1.10 for g in growth.values()), growth


# --- tracectl stack as a user runs it ---------------------------------------------------------


def children_of(pid: int) -> set[int]:
    found = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return {int(p) for p in found.split()}


def test_stack_prints_its_endpoints_serves_and_stops_every_child_on_sigterm(tmp_path: Path) -> None:
    import signal
    import time

    import urllib3

    process = subprocess.Popen(
        [sys.executable, "-m", "tracectl.cli", "stack", "--exporter", "xray", "--work-dir", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # one JSON line once everything answers
        endpoints = json.loads(line)
        assert {"otlp_http", "jaeger_query", "aws_endpoint"} <= endpoints.keys()
        assert all(endpoints[k].startswith("http://127.0.0.1:") for k in ("otlp_http", "jaeger_query", "aws_endpoint"))
        assert endpoints["collector_config"].endswith("collector/xray.yaml")
        http = urllib3.PoolManager(retries=False, timeout=5.0)
        assert http.request("GET", endpoints["jaeger_query"] + "/api/services").status == 200
        sent = http.request(
            "POST", endpoints["otlp_http"] + "/v1/traces", body=b"", headers={"Content-Type": "application/x-protobuf"}
        )
        assert sent.status == 200
        children = children_of(process.pid)
        assert len(children) == 3  # jaeger, moto, collector
        # where `tracectl view --stack` finds it, and the view reading it
        assert json.loads((tmp_path / "endpoints.json").read_text()) == endpoints
        with tracectl_view("--stack", "--stack-dir", str(tmp_path)) as url:
            page = http.request("GET", url)
            assert page.status == 200 and endpoints["aws_endpoint"] in page.data.decode()
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "stack stopped" in stderr
    assert not (tmp_path / "endpoints.json").exists()
    time.sleep(0.2)
    assert not any(Path(f"/proc/{pid}").exists() for pid in children)


def test_stack_says_when_its_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["stack", "--otlp-port", str(port), "--work-dir", str(tmp_path)])
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert f"cannot bind 127.0.0.1:{port}" in line


def test_make_e2e_checks_every_trace_and_exits_0(tmp_path: Path) -> None:
    """`tracectl demo --stack` as `make e2e` runs it: every trace with an SDK span checked in both backends."""
    files = ["--out", str(tmp_path / "traces.jsonl"), "--map", str(tmp_path / "map.svg")]
    completed = subprocess.run(
        [sys.executable, "-m", "tracectl.cli", "demo", "--stack", "-n", "3", "--uploads", "1", "--seed", "3", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-2000:]
    assert "4/4 traces complete and equal in X-Ray and Jaeger; 0 span(s) lost" in completed.stdout
    written = load_jsonl(tmp_path / "traces.jsonl")
    assert any(s.aws_created for t in written.values() for s in t.spans)  # AWS's segments, marked as such


def test_after_make_stack_the_demo_sends_into_it_and_the_view_shows_both_backends(tmp_path: Path) -> None:
    """`make stack` in one terminal, `make e2e` in another, then `tracectl view --stack`: the stack keeps running."""
    import signal

    stack = subprocess.Popen(
        [sys.executable, "-m", "tracectl.cli", "stack", "--exporter", "both", "--work-dir", str(tmp_path / "stack")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert stack.stdout is not None
        endpoints = json.loads(stack.stdout.readline())
        files = ["--out", str(tmp_path / "traces.jsonl"), "--map", str(tmp_path / "map.svg")]
        demo = subprocess.run(
            [sys.executable, "-m", "tracectl.cli", "demo", "--stack", "-n", "2", "--uploads", "0", *files],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-2000:]
        assert "sending to the pipeline `tracectl stack` runs in" in demo.stdout
        assert "2/2 traces complete and equal in X-Ray and Jaeger" in demo.stdout
        assert stack.poll() is None and (tmp_path / "stack" / "endpoints.json").exists()  # still running
        requests = [t for t, trace in load_jsonl(tmp_path / "traces.jsonl").items() if trace.roots()[0].aws_created]
        held = xray_source.fetch(xray_source.xray_client(emulator=endpoints["aws_endpoint"]), requests)
        assert set(held) == set(requests) and all(len(t.roots()) == 1 for t in held.values())
        with tracectl_view("--stack", "--stack-dir", str(tmp_path / "stack")) as url:
            listed = urllib3.request("GET", url, retries=False).data.decode()
            assert all(f'data-trace="{t}"' in listed for t in requests) and ">both<" in listed
    finally:
        stack.send_signal(signal.SIGTERM)
        stack.communicate(timeout=60)
