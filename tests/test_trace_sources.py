"""Reading a trace back: X-Ray (moto over HTTP), Jaeger's query API (a local stand-in), real answers."""

from __future__ import annotations

import copy
import json

import pytest
from click.testing import CliRunner

from functions.tracing import to_xray_id
from tests.trace_documents import FIXTURES, TRACE, captured, captured_sdk, otlp, segments, shape
from tracectl.cli import main
from tracectl.traces.compare import compare
from tracectl.traces.jaeger_source import JaegerSource
from tracectl.traces.trace_model import SourceError, group, spans_from_otlp_json
from tracectl.traces.xray_source import fetch

# --- X-Ray, against moto server ----------------------------------------------------------------


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

    from tracectl.traces.xray_source import summaries

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

    from tracectl.traces.xray_source import summaries

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
