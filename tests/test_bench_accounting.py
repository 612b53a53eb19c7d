"""The benchmark's span accounting: what each twin's transport delivers is counted, nothing else.

bench/sink.py hears X-Ray daemon datagrams: Powertools' segment documents and the ADOT Python
layer's OTLP over UDP (`T1S` + base64 protobuf). Counting them wrong would make "zero spans lost"
a claim about the sink, not the twins.
"""

from __future__ import annotations

import base64
import json
import socket
import time

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from bench.runner import spans_by_twin
from bench.sink import serve_xray_daemon

HEADER = b'{"format": "json", "version": 1}\n'


def otlp_request(service: str, spans: int) -> bytes:
    resource = Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value=service))])
    made = [Span(trace_id=bytes([1] * 16), span_id=bytes([n + 1] * 8), name=f"s{n}") for n in range(spans)]
    request = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=made)])]
    )
    return request.SerializeToString()


def test_segments_with_subsegments_and_otlp_over_udp_are_counted_per_twin(tmp_path) -> None:
    server = serve_xray_daemon(tmp_path)
    segment = {"id": "a", "name": "## handler", "subsegments": [{"id": "b", "subsegments": [{"id": "c"}]}]}
    datagrams = [
        HEADER + json.dumps(segment).encode(),  # 3 segments, nested
        HEADER + json.dumps({"id": "d", "type": "subsegment"}).encode(),  # streamed alone: 1
        HEADER + b"T1S" + base64.b64encode(otlp_request("bench-adot", 2)),
    ]
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for datagram in datagrams:
                sender.sendto(datagram, server.server_address)
        written = (tmp_path / "xray.jsonl", tmp_path / "udp-otlp.jsonl")
        deadline = time.monotonic() + 10
        while sum(f.read_text().count("\n") for f in written if f.exists()) < len(datagrams):
            assert time.monotonic() < deadline, "the sink did not write every datagram"
            time.sleep(0.02)
    finally:
        server.shutdown()
        server.server_close()
    counted = spans_by_twin(tmp_path, {"plain": 1, "ours": 1, "powertools": 1, "adot": 1})
    assert {name: c["received"] for name, c in counted.items()} == {"plain": 0, "ours": 0, "powertools": 4, "adot": 2}
    assert {name: c["expected"] for name, c in counted.items()} == {"plain": 0, "ours": 3, "powertools": 3, "adot": 3}
