"""Comparing one trace across sources: ids, adapters (X-Ray on moto, Jaeger on a local server), verdicts, traffic."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from functions.tracing import from_xray_id, to_xray_id
from tests.conftest import ROOT
from tracectl.cli import main
from tracectl.compare import compare
from tracectl.jaeger_source import JaegerSource
from tracectl.trace_model import SourceError, Trace, group, load_jsonl, spans_from_otlp_json
from tracectl.xray_source import fetch, from_segments

FIXTURES = ROOT / "tests" / "fixtures"
TRACE = "6b0329265bf6e192d56ebd46172c790f"


def otlp() -> dict:
    return json.loads((FIXTURES / "otlp_trace.json").read_text())


def segments() -> list[dict]:
    return json.loads((FIXTURES / "xray_segments.json").read_text())


# --- ids ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("hex_id", [TRACE, "0" * 32, "f" * 32, "5f8a1b2c0af7651916cd43dd8448eb21"])
def test_ids_round_trip(hex_id: str) -> None:
    xray_id = to_xray_id(hex_id)
    assert xray_id == f"1-{hex_id[:8]}-{hex_id[8:]}"
    assert from_xray_id(xray_id) == hex_id
    assert to_xray_id(int(hex_id, 16)) == xray_id


@pytest.mark.parametrize(
    "bad",
    ["", "1-abc-def", "2-6b032926-5bf6e192d56ebd46172c790f", "1-6b032926-5bf6e192d56ebd46172c790", "xyz", "1-" * 20],
)
def test_malformed_ids_are_rejected_clearly(bad: str) -> None:
    with pytest.raises(ValueError, match="trace id"):
        from_xray_id(bad) if bad.startswith(("1-", "2-")) else to_xray_id(bad)
    result = CliRunner().invoke(main, ["id", bad or "''"])
    assert result.exit_code == 2
    assert "use 32 hex digits or an X-Ray id" in result.output


def test_id_command_prints_both_forms_and_deep_links() -> None:
    result = CliRunner().invoke(main, ["id", f"1-{TRACE[:8]}-{TRACE[8:]}", "--region", "eu-west-1", "--json"])
    links = json.loads(result.output)
    assert links["trace_id"] == TRACE
    assert links["xray_console"].endswith(f"region=eu-west-1#xray:traces/1-{TRACE[:8]}-{TRACE[8:]}")
    assert links["jaeger_ui"] == f"http://127.0.0.1:16686/trace/{TRACE}"


# --- X-Ray adapter against moto server ---------------------------------------------------------


def test_xray_adapter_reads_back_the_tree_from_moto(local_aws) -> None:
    # GIVEN segment documents shaped like the awsxray exporter's and Lambda's, put through the API
    xray = local_aws.client("xray")
    response = xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in segments()])
    assert response["UnprocessedTraceSegments"] == []
    # WHEN the adapter reads them back
    traces = fetch(xray, [TRACE])
    # THEN every segment and subsegment is a span with its parent, flags and mapped fields
    trace = traces[TRACE]
    spans = {s.span_id: s for s in trace.spans}
    assert trace.source == "xray"
    assert set(spans) == {d["id"] for d in segments()} | {"ffff00000000000b"}
    assert spans["a000000000000001"].parent_id == "ffff00000000000a"
    assert spans["ffff00000000000b"].parent_id == "ffff00000000000a"  # nested subsegment
    assert spans["a000000000000002"].parent_id == "a000000000000001"
    assert spans["a000000000000002"].kind == "client" and spans["a000000000000002"].service == "SNS"
    assert spans["a000000000000001"].attributes["annotation.request_path"] == "/orders/1"
    assert spans["a000000000000001"].attributes["metadata.default.faas.trigger"] == "http"
    assert spans["a000000000000001"].attributes["http.response.status"] == 200
    assert spans["a000000000000003"].error and "CERTIFICATE_VERIFY_FAILED" in spans["a000000000000003"].status_message
    made_by_aws = {i for i, s in spans.items() if s.aws_created}
    assert made_by_aws == {"ffff000000000009", "ffff00000000000a", "ffff00000000000b", "ffff00000000000c"}
    assert fetch(xray, ["0" * 32]) == {}


def test_xray_errors_become_a_source_error(local_aws) -> None:
    import boto3

    client = boto3.client(
        "xray",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    client.meta.config.retries = {"max_attempts": 0}
    with pytest.raises(SourceError, match="X-Ray"):
        fetch(client, [TRACE])


# --- Jaeger adapter against a local HTTP server ------------------------------------------------


class FakeJaeger:
    """Serves the query API: /api/v3/traces/{id} and/or the legacy /api/traces/{id}."""

    def __init__(self, *, v3: dict | None, legacy: dict | None, status: int = 200, trace: str = TRACE) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.paths.append(self.path)
                body = None
                if status != 200:
                    self.send_response(status)
                    self.end_headers()
                    return
                if self.path == f"/api/v3/traces/{trace}" and v3 is not None:
                    body = v3
                elif self.path == f"/api/traces/{trace}" and legacy is not None:
                    body = legacy
                payload = json.dumps(body).encode() if body is not None else b"{}"
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_args: object) -> None:
                pass

        self.paths: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def jaeger() -> Iterator:
    servers: list[FakeJaeger] = []

    def start(**kwargs) -> FakeJaeger:
        servers.append(FakeJaeger(**kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def shape(trace) -> set:
    return {(s.span_id, s.parent_id, s.name, s.kind, s.service, s.error, s.start_ns // 1000) for s in trace.spans}


def test_jaeger_v3_and_legacy_formats_read_the_same(jaeger) -> None:
    expected = group(spans_from_otlp_json(otlp()))[TRACE]
    v3 = jaeger(v3={"result": otlp()}, legacy=None)
    legacy = jaeger(v3=None, legacy=json.loads((FIXTURES / "jaeger_legacy_trace.json").read_text()))
    from_v3, from_legacy = JaegerSource(v3.url).fetch(TRACE), JaegerSource(legacy.url).fetch(TRACE)
    assert shape(from_v3) == shape(from_legacy) == shape(expected)
    assert legacy.paths == [f"/api/v3/traces/{TRACE}", f"/api/traces/{TRACE}"]  # v3 first, then legacy
    assert [s.attributes["request_path"] for s in from_legacy.spans if "request_path" in s.attributes] == ["/orders/1"]


def test_jaeger_v3_with_base64_ids_is_read_too(jaeger) -> None:
    import base64

    document = copy.deepcopy(otlp())
    for rs in document["resourceSpans"]:
        for span in rs["scopeSpans"][0]["spans"]:
            for key in ("traceId", "spanId", "parentSpanId"):
                span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    server = jaeger(v3={"result": document}, legacy=None)
    assert shape(JaegerSource(server.url).fetch(TRACE)) == shape(group(spans_from_otlp_json(otlp()))[TRACE])


def test_jaeger_missing_denied_and_unreachable(jaeger) -> None:
    assert JaegerSource(jaeger(v3=None, legacy=None).url).fetch(TRACE) is None
    with pytest.raises(SourceError, match="refused the request \\(401\\)"):
        JaegerSource(jaeger(v3=None, legacy=None, status=401).url).fetch(TRACE)
    with pytest.raises(SourceError, match="unreachable"):
        JaegerSource("http://127.0.0.1:9", timeout_s=1).fetch(TRACE)


# --- what the real backends returned (tests/fixtures/captured/, from tests/test_e2e_pipeline.py) ----
# One faulted request of the local app through the built collector (both.yaml) into Jaeger v2.13.0
# and the awsxray exporter v0.117.0 → moto; refreshed with TRACECTL_RECAPTURE=1 on the e2e tests.

CAPTURED = FIXTURES / "captured"


def captured_sdk() -> Trace:
    [trace] = load_jsonl(CAPTURED / "sdk_spans.jsonl").values()
    return trace


def captured(name: str):
    return json.loads((CAPTURED / name).read_text())


def test_real_jaeger_answers_read_back_as_the_spans_the_sdk_finished(jaeger) -> None:
    sdk = captured_sdk()
    v3 = jaeger(v3=captured("jaeger_v3.json"), legacy=None, trace=sdk.trace_id)
    legacy = jaeger(v3=None, legacy=captured("jaeger_legacy.json"), trace=sdk.trace_id)
    from_v3 = JaegerSource(v3.url).fetch(sdk.trace_id)
    from_legacy = JaegerSource(legacy.url).fetch(sdk.trace_id)
    assert shape(from_v3) == shape(from_legacy) == shape(sdk)
    assert len(sdk.spans) > 10 and sdk.has_error  # a whole faulted request, every hop
    assert compare(sdk, from_v3, "SDK", "Jaeger").verdict == "identical"


def test_real_xray_and_jaeger_answers_compare_clean_through_the_cli(jaeger, local_aws) -> None:
    # GIVEN the segment documents the real awsxray exporter wrote, back in the emulator,
    # and the real Jaeger's v3 answer for the same trace
    sdk = captured_sdk()
    xray = local_aws.client("xray")
    response = xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in captured("xray_segments.json")])
    assert response["UnprocessedTraceSegments"] == []
    server = jaeger(v3=captured("jaeger_v3.json"), legacy=None, trace=sdk.trace_id)
    # WHEN compared by X-Ray id through the CLI
    result = CliRunner().invoke(main, ["compare", to_xray_id(sdk.trace_id), "--xray", "--jaeger", server.url, "--json"])
    # THEN every span matches; what differs is only X-Ray's naming of segments and AWS subsegments
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["matched_spans"] == len(sdk.spans)
    assert report["verdict"] == "expected differences only"
    assert all("X-Ray names segments" in d["what"] for d in report["differences"])


def test_the_hand_written_xray_fixture_uses_only_fields_the_real_exporter_writes() -> None:
    # The hand-written fixture also holds what no local run can make (Lambda's and API Gateway's
    # own segments, inferred ones): its OTel-made documents must look like the real exporter's.
    real: dict[str, set[str]] = {"segment": set(), "subsegment": set(), "aws": set(), "http": set()}

    def walk(doc: dict, into: dict[str, set[str]], kind: str) -> None:
        into[kind] |= set(doc)
        into["aws"] |= set(doc.get("aws", {}))
        into["http"] |= set(doc.get("http", {}))
        for sub in doc.get("subsegments", []):
            walk(sub, into, "subsegment")

    for doc in captured("xray_segments.json"):
        walk(doc, real, doc.get("type", "segment"))
    written: dict[str, set[str]] = {"segment": set(), "subsegment": set(), "aws": set(), "http": set()}
    for doc in segments():
        if "opentelemetry" in str(doc.get("aws", {}).get("xray", {}).get("sdk", "")).lower():
            walk(doc, written, doc.get("type", "segment"))
    assert written["segment"] | written["subsegment"]  # the fixture has OTel-made documents
    # Locally every function span but the API's is a subsegment (no Lambda segments to hang from),
    # so a document's own fields are checked against both kinds; aws and http blocks against their own.
    documents, fields = real["segment"] | real["subsegment"], written["segment"] | written["subsegment"]
    assert fields <= documents, fields - documents
    assert written["aws"] <= real["aws"], written["aws"] - real["aws"]
    assert written["http"] <= real["http"], written["http"] - real["http"]


# --- compare -----------------------------------------------------------------------------------


def write_local(tmp_path: Path, document: dict) -> Path:
    path = tmp_path / "local.jsonl"
    path.write_text(json.dumps(document) + "\n")
    return path


def run_compare(tmp_path: Path, jaeger, local_doc: dict, jaeger_doc: dict):
    server = jaeger(v3={"result": jaeger_doc}, legacy=None)
    return CliRunner().invoke(
        main, ["compare", TRACE, "--local", str(write_local(tmp_path, local_doc)), "--jaeger", server.url, "--json"]
    )


def test_identical_traces_compare_clean(tmp_path, jaeger) -> None:
    result = run_compare(tmp_path, jaeger, otlp(), otlp())
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["verdict"], report["matched_spans"], report["differences"]) == ("identical", 3, [])
    assert report["spans_per_service"] == {"http": [1, 1], "ingest": [2, 2]}


def spans_in(document: dict) -> list[dict]:
    return [s for rs in document["resourceSpans"] for s in rs["scopeSpans"][0]["spans"]]


def test_a_missing_span_is_unexpected(tmp_path, jaeger) -> None:
    other = copy.deepcopy(otlp())
    other["resourceSpans"][1]["scopeSpans"][0]["spans"] = []
    result = run_compare(tmp_path, jaeger, otlp(), other)
    assert result.exit_code == 1
    [difference] = json.loads(result.output)["differences"]
    assert difference["expected"] is False
    assert difference["span"] == "http/ingest process [a000000000000003]"
    assert "only in local" in difference["what"]


def test_a_different_parent_is_unexpected(tmp_path, jaeger) -> None:
    other = copy.deepcopy(otlp())
    spans_in(other)[2]["parentSpanId"] = "a000000000000001"
    result = run_compare(tmp_path, jaeger, otlp(), other)
    assert result.exit_code == 1
    [difference] = json.loads(result.output)["differences"]
    assert "different parent: a000000000000002 in local" in difference["what"]


def test_an_error_on_one_side_only_is_unexpected(tmp_path, jaeger) -> None:
    other = copy.deepcopy(otlp())
    spans_in(other)[2]["status"] = {}
    result = run_compare(tmp_path, jaeger, otlp(), other)
    assert result.exit_code == 1
    [difference] = json.loads(result.output)["differences"]
    assert difference["what"].startswith("error only in local ")
    assert difference["what"].endswith(": DeliberateFault: [SSL: CERTIFICATE_VERIFY_FAILED] deliberate fault")


def test_lambdas_own_segments_are_expected_differences(tmp_path, local_aws) -> None:
    # GIVEN the same trace from an OTel source and from X-Ray (moto), X-Ray also holding Lambda's,
    # API Gateway's and inferred segments
    local_aws.client("xray").put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in segments()])
    local = write_local(tmp_path, otlp())
    # WHEN compared through the CLI
    result = CliRunner().invoke(main, ["compare", TRACE, "--local", str(local), "--xray", "--json"])
    # THEN only expected differences remain, each explained
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["verdict"] == "expected differences only"
    assert report["matched_spans"] == 3
    whats = [d["what"] for d in report["differences"]]
    assert sum("made by an AWS service" in w for w in whats) == 4
    assert any("X-Ray names segments after their service" in w for w in whats)
    assert all(d["expected"] for d in report["differences"])


def test_an_annotation_that_disagrees_with_its_attribute_is_unexpected() -> None:
    docs = segments()
    docs[2]["annotations"]["request_path"] = "/somewhere/else"
    comparison = compare(group(spans_from_otlp_json(otlp()))[TRACE], from_segments(docs), "local", "X-Ray")
    [unexpected] = comparison.unexpected
    assert "annotation request_path='/somewhere/else' but attribute ='/orders/1'" in unexpected.what


def test_compare_usage_and_source_errors_exit_2(tmp_path, jaeger) -> None:
    local = str(write_local(tmp_path, otlp()))
    one_source = CliRunner().invoke(main, ["compare", TRACE, "--local", local])
    assert one_source.exit_code == 2 and "exactly two sources" in one_source.output
    empty = jaeger(v3=None, legacy=None)
    missing = CliRunner().invoke(main, ["compare", TRACE, "--local", local, "--jaeger", empty.url])
    assert missing.exit_code == 2 and "not found in Jaeger" in missing.output
    down = CliRunner().invoke(main, ["compare", TRACE, "--local", local, "--jaeger", "http://127.0.0.1:9"])
    assert down.exit_code == 2 and "unreachable" in down.output
    bad_header = CliRunner().invoke(
        main, ["compare", TRACE, "--local", local, "--jaeger", empty.url, "--jaeger-header", "Bearer abc"]
    )
    assert bad_header.exit_code == 2 and "is not 'Name: value'" in bad_header.output


# --- traffic -----------------------------------------------------------------------------------


@contextmanager
def fake_api(answer) -> Iterator[str]:
    """A local API whose GET answers `answer(path) -> (status, trace id)`; yields its base URL."""

    class Api(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, trace_id = answer(self.path)
            body = json.dumps({"trace_id": trace_id}).encode()
            self.send_response(status)
            if status == 200:
                self.send_header("x-trace-id", trace_id)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/prod/"
    finally:
        server.shutdown()
        server.server_close()


def test_traffic_drives_the_api_collects_trace_ids_and_counts_errors() -> None:
    served: list[str] = []

    def answer(path: str) -> tuple[int, str]:
        served.append(path)
        number = int(path.rsplit("/", 1)[-1])
        return (500 if number % 4 == 3 else 200), f"{number:032x}"

    with fake_api(answer) as url:
        result = CliRunner().invoke(main, ["traffic", "--url", url, "-n", "8", "-c", "3"])
    assert sorted(served) == sorted(f"/prod/traffic/{i}" for i in range(8))
    printed = [line for line in result.output.splitlines() if len(line) == 32]
    assert printed == [f"{i:032x}" for i in range(8)]  # error answers still carry the id in the body
    assert "sent 8, errors 2" in result.output
    assert "requests" in result.output  # the progress bar
    assert result.exit_code == 1  # errors make it non-zero


@pytest.mark.live
def test_deployed_both_stack_traces_match_in_xray_and_jaeger() -> None:
    import os

    url, jaeger_url = os.environ.get("TRACECTL_LIVE_API_URL"), os.environ.get("TRACECTL_JAEGER_URL")
    if not url or not jaeger_url:
        pytest.skip(
            "needs a stack deployed with -c exporter=both, AWS credentials, TRACECTL_LIVE_API_URL "
            "(the ApiUrl output) and TRACECTL_JAEGER_URL (its Jaeger query URL): none here"
        )
    result = CliRunner().invoke(main, ["traffic", "--url", url, "-n", "5", "--compare", "--jaeger", jaeger_url])
    assert result.exit_code == 0, result.output


def recent_segments(trace_id: str) -> list[dict]:
    """The fixture's documents, moved to now and to another trace id."""
    import time as clock

    docs = segments()
    shift = clock.time() - 1 - min(d["start_time"] for d in docs)
    for d in docs:
        d["trace_id"] = to_xray_id(trace_id)
        d["start_time"] += shift
        d["end_time"] += shift
        for sub in d.get("subsegments", []):
            sub["start_time"] += shift
            sub["end_time"] += shift
    return docs


def test_xray_summaries_list_recent_traces(local_aws) -> None:
    from datetime import UTC, datetime, timedelta

    from tracectl.xray_source import summaries

    xray = local_aws.client("xray")
    wanted = {f"6b03{i:028x}" for i in range(3)}
    for trace_id in wanted:
        xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in recent_segments(trace_id)])
    now = datetime.now(UTC)
    found = {s.trace_id: s for s in summaries(xray, now - timedelta(minutes=5), now + timedelta(minutes=1))}
    assert wanted <= set(found)
    assert all(found[t].error for t in wanted)  # the http segment faulted
    result = CliRunner().invoke(main, ["traces", "list", "--xray", "--minutes", "5", "--json"])
    assert result.exit_code == 0, result.output
    assert wanted <= {json.loads(line)["trace_id"] for line in result.output.splitlines()}


def test_xray_summaries_find_a_trace_that_ended_within_the_last_second(local_aws) -> None:
    # GIVEN a trace whose last segment ended 0.1 s before the window's end, in the same second
    from datetime import UTC, datetime, timedelta

    from tracectl.xray_source import summaries

    xray = local_aws.client("xray")
    end = datetime.now(UTC).replace(microsecond=950_000)
    trace_id = f"6b04{end.second:028x}"
    docs = recent_segments(trace_id)
    shift = end.timestamp() - 0.1 - max(d["end_time"] for d in docs)
    for d in docs:
        d["start_time"] += shift
        d["end_time"] += shift
        for sub in d.get("subsegments", []):
            sub["start_time"] += shift
            sub["end_time"] += shift
    xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in docs])
    # WHEN the summaries of the window ending at `end` are asked for
    found = {s.trace_id for s in summaries(xray, end - timedelta(minutes=1), end)}
    # THEN it is there (moto keeps whole seconds: without widening, an end of .95 s dropped it)
    assert trace_id in found


def test_traffic_uploads_objects_to_the_bucket_too(local_aws) -> None:
    s3 = local_aws.client("s3")
    before = s3.list_objects_v2(Bucket="uploads").get("KeyCount", 0)
    with fake_api(lambda _path: (200, "0" * 32)) as url:
        result = CliRunner().invoke(main, ["traffic", "--url", url, "-n", "1", "--uploads", "3", "--bucket", "uploads"])
        missing = CliRunner().invoke(main, ["traffic", "--url", url, "-n", "1", "--uploads", "1"])
    assert result.exit_code == 0, result.output
    assert s3.list_objects_v2(Bucket="uploads")["KeyCount"] == before + 3
    assert result.output.count("uploaded s3://uploads/traffic/") == 3
    assert missing.exit_code == 2 and "--uploads needs --bucket NAME" in missing.output
