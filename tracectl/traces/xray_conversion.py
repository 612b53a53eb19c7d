"""What X-Ray would hold for a trace file's spans: the awsxray exporter's conversion, in Python.

The collector's `awsxray` exporter (v0.117, the ADOT layer's) turns each OTel span into one segment
document. `segment_documents` follows its rules where they decide what a reader sees:
- a server span, or a span with no parent, is a segment; any other span a subsegment;
- the name: for a server span the resource's `service.name`; for an AWS SDK call (`rpc.system`
  `aws-api`) the service (`rpc.service`: `DynamoDB`, `SNS`), in namespace `aws`; otherwise
  `peer.service`, `rpc.service`, the old `http.host` / `net.peer.name`, then the span's own name with
  the characters X-Ray refuses removed; a client span with no AWS namespace is `remote`;
- error, fault, throttle: a 4xx status is an error (429 a throttle too), a 5xx a fault, an error
  status without an HTTP status a fault; exception events become the `cause`;
- annotations: attributes named in the collector's `indexed_attributes` or in the span's
  `aws.xray.annotations`, with keys reduced to letters, digits, `_` and `.`; every other attribute
  is metadata under `default`;
- `http`: method, URL, status from either HTTP convention.
Not shown: the resource's attributes as `otel.resource.*` metadata (a trace file keeps only the
service name), `sql`, the `aws` block beyond operation, region and request id, span links. The
segments an AWS service wrote (a trace file marks them) are kept as they are. tests/test_view.py
holds this conversion to what the real exporter wrote, for the same spans, through the real pipeline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from tracectl.traces.trace_model import SEGMENT_ATTRIBUTE, Span, Trace

ANNOTATIONS_ATTRIBUTE = "aws.xray.annotations"
_INVALID_NAME = re.compile(r"[^ 0-9\w.:/%&#=+\-@]", re.UNICODE)
_HTTP = {
    "method": ("http.request.method", "http.method"),
    "url": ("url.full", "http.url"),
    "status": ("http.response.status_code", "http.status_code"),
}
_CONSUMED = {key for keys in _HTTP.values() for key in keys} | {ANNOTATIONS_ATTRIBUTE, SEGMENT_ATTRIBUTE}


def xray_id(trace_id: str) -> str:
    return f"1-{trace_id[:8]}-{trace_id[8:]}"


def annotation_key(attribute: str) -> str:
    """The key X-Ray's exporter gives an attribute as an annotation.

    Characters other than letters, digits and dots become `_`; dots are kept since the awsxray
    exporter's `exporter.xray.allowDot` gate (beta, on by default from v0.97) — seen through the
    real collector: `faas.coldstart` arrives in X-Ray as `faas.coldstart`, not `faas_coldstart`.
    """
    return re.sub(r"[^A-Za-z0-9_.]", "_", attribute)


def segment_documents(trace: Trace, indexed_attributes: Iterable[str] = ()) -> list[dict[str, Any]]:
    """One document per span, as the exporter sends them (subsegments on their own, `type: subsegment`),
    and the whole documents of segments AWS wrote (a trace file keeps them in `aws.xray.segment`)."""
    indexed = set(indexed_attributes)
    documents = []
    for span in sorted(trace.spans, key=lambda s: s.start_ns):
        if span.aws_created:
            if SEGMENT_ATTRIBUTE in span.attributes:
                documents.append(json.loads(span.attributes[SEGMENT_ATTRIBUTE]))
            continue  # a subsegment inside such a document
        documents.append(_document(span, indexed))
    return documents


def _document(span: Span, indexed: set[str]) -> dict[str, Any]:
    a = span.attributes
    is_segment = span.kind == "server" or span.parent_id is None
    aws_sdk = a.get("rpc.system") == "aws-api"
    document: dict[str, Any] = {
        "id": span.span_id,
        "trace_id": xray_id(span.trace_id),
        "name": _name(span, aws_sdk),
        "start_time": span.start_ns / 1e9,
        "end_time": span.end_ns / 1e9,
    }
    if span.parent_id:
        document["parent_id"] = span.parent_id
    if not is_segment:
        document["type"] = "subsegment"
    namespace = "aws" if aws_sdk or "aws.service" in a else ("remote" if span.kind == "client" else "")
    if namespace:
        document["namespace"] = namespace
    http = {
        part: {k: v for k, v in values.items() if v is not None}
        for part, values in (
            ("request", {"method": _first(a, _HTTP["method"]), "url": _first(a, _HTTP["url"])}),
            ("response", {"status": _first(a, _HTTP["status"])}),
        )
    }
    if any(http.values()):
        document["http"] = {part: values for part, values in http.items() if values}
    status = _first(a, _HTTP["status"])
    code = int(status) if isinstance(status, int | str) and str(status).isdigit() else None
    if code is not None and 400 <= code <= 499:
        document["error"] = True
        document["throttle"] = code == 429
    elif (code is not None and 500 <= code <= 599) or span.error:
        document["fault"] = True
    exceptions = [e for e in span.events if e.name == "exception"]
    if exceptions:
        document["cause"] = {
            "exceptions": [
                {"type": e.attributes.get("exception.type", ""), "message": e.attributes.get("exception.message", "")}
                for e in exceptions
            ]
        }
    # Every span in a trace file comes from an OTel SDK for Python (the functions, the uploader)
    document["aws"] = {"xray": {"sdk": "opentelemetry for python"}}
    if aws_sdk:
        for key, value in (
            ("operation", a.get("rpc.method")),
            ("region", a.get("cloud.region")),
            ("request_id", a.get("aws.request_id")),
        ):
            if value is not None:
                document["aws"][key] = value
    annotated = indexed | set(a.get(ANNOTATIONS_ATTRIBUTE) or ())
    annotations = {
        annotation_key(k): v for k, v in a.items() if k in annotated and isinstance(v, str | bool | int | float)
    }
    metadata = {k: v for k, v in a.items() if k not in _CONSUMED and annotation_key(k) not in annotations}
    if annotations:
        document["annotations"] = annotations
    if metadata:
        document["metadata"] = {"default": metadata}
    return document


def _name(span: Span, aws_sdk: bool) -> str:
    a = span.attributes
    candidates = [
        a.get("aws.remote.service") if span.kind in ("client", "producer", "consumer") else None,
        a.get("peer.service"),
        a.get("aws.service"),
        a.get("db.name"),
        span.service if span.kind == "server" else None,
        a.get("rpc.service"),
        a.get("http.host"),
        a.get("net.peer.name"),
    ]
    name = next((str(c) for c in candidates if c), None)
    if name is not None and aws_sdk:
        name = name.removeprefix("AWS.SDK.").removeprefix("AWS::")
    return name or (_INVALID_NAME.sub("", span.name)[:200] or "span")


def _first(attributes: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((attributes[k] for k in keys if k in attributes), None)
