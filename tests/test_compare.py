"""`tracectl compare`: every difference between two sources of one trace, classified expected or not."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from click.testing import CliRunner

from tests.trace_documents import TRACE, otlp, segments
from tracectl.cli import main
from tracectl.traces.compare import compare
from tracectl.traces.trace_model import group, spans_from_otlp_json
from tracectl.traces.xray_source import from_segments


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
