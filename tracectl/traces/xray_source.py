"""Traces from AWS X-Ray (BatchGetTraces), normalised to `trace_model.Trace`.

Segments and subsegments become spans with their own ids: the awsxray exporter keeps OTel's
64-bit span ids, so a span and its segment share an id. Annotations become attributes
`annotation.<key>`, metadata `metadata.<namespace>.<key>`; `error`/`fault`/`throttle` become the
error flag and `cause` its message. Segments an AWS service made itself (Lambda's own segments,
API Gateway, inferred downstream resources) are marked `aws_created`. boto3 resolves region,
profile, credentials and `AWS_ENDPOINT_URL` as it always does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from functions.tracing import from_xray_id, to_xray_id
from tracectl.traces.trace_model import SourceError, Span, Trace

BATCH = 5  # BatchGetTraces takes up to 5 ids per call


def xray_client(*, region: str | None = None, emulator: str | None = None) -> Any:
    """A boto3 X-Ray client: AWS's (boto3 resolves region, profile, credentials and
    AWS_ENDPOINT_URL), or the local emulator's at `emulator` (moto, which takes any credentials)."""
    import boto3

    if emulator is not None:
        from tracectl.emulator_identity import REGION, boto_credentials

        return boto3.client("xray", endpoint_url=emulator, region_name=region or REGION, **boto_credentials())
    return boto3.client("xray", region_name=region) if region else boto3.client("xray")


def fetch(client: Any, trace_ids: list[str]) -> dict[str, Trace]:
    """{32-hex id: Trace} for the ids X-Ray has; ids it does not have (yet) are left out."""
    return {trace_id: from_segments(documents) for trace_id, documents in fetch_documents(client, trace_ids).items()}


def fetch_documents(client: Any, trace_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """{32-hex id: its segment documents, as X-Ray returns them} for the ids X-Ray has."""
    found: dict[str, list[dict[str, Any]]] = {}
    for start in range(0, len(trace_ids), BATCH):
        ids = [to_xray_id(t) for t in trace_ids[start : start + BATCH]]
        token = None
        with _as_source_error():
            while True:
                page = client.batch_get_traces(TraceIds=ids, **({"NextToken": token} if token else {}))
                for trace in page.get("Traces", []):
                    documents = [json.loads(s["Document"]) for s in trace.get("Segments", [])]
                    if documents:
                        found.setdefault(from_xray_id(documents[0]["trace_id"]), []).extend(documents)
                token = page.get("NextToken")
                if not token:
                    break
    return found


@dataclass(frozen=True)
class TraceSummary:
    trace_id: str
    duration_s: float
    error: bool
    """Any segment had an error, fault or throttle."""


def summaries(
    client: Any, start: datetime, end: datetime, *, filter_expression: str | None = None
) -> list[TraceSummary]:
    """Every trace X-Ray recorded between `start` and `end` (GetTraceSummaries, all pages).

    The window is widened to whole seconds (start down, end up): an emulator that keeps only whole
    seconds (moto truncates both) would otherwise drop a trace that ended in the last second —
    `traces list --xray` ends its window at "now", just after the newest traces ended.
    """
    found: list[TraceSummary] = []
    start = start.replace(microsecond=0)
    if end.microsecond:
        end = end.replace(microsecond=0) + timedelta(seconds=1)
    request: dict[str, Any] = {"StartTime": start, "EndTime": end}
    if filter_expression:
        request["FilterExpression"] = filter_expression
    with _as_source_error():
        while True:
            page = client.get_trace_summaries(**request)
            for summary in page.get("TraceSummaries", []):
                error = any(summary.get(flag) for flag in ("HasError", "HasFault", "HasThrottle"))
                found.append(TraceSummary(from_xray_id(summary["Id"]), float(summary.get("Duration", 0)), error))
            if not page.get("NextToken"):
                return found
            request["NextToken"] = page["NextToken"]


def service_graph(client: Any, start: datetime, end: datetime, trace_id: str | None = None) -> list[dict[str, Any]]:
    """X-Ray's own service graph: of every trace in the window (GetServiceGraph), or of one (GetTraceGraph).
    `Services` of every page; an emulator may answer none (moto does)."""
    services: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TraceIds": [to_xray_id(trace_id)]} if trace_id else {"StartTime": start, "EndTime": end}
    with _as_source_error():
        while True:
            page = client.get_trace_graph(**request) if trace_id else client.get_service_graph(**request)
            services.extend(page.get("Services") or [])
            if not page.get("NextToken"):
                return services
            request["NextToken"] = page["NextToken"]


@contextmanager
def _as_source_error() -> Iterator[None]:
    """boto3's errors (denied, throttled, unreachable, no credentials) as one-line SourceErrors."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as error:
        detail = error.response["Error"]
        raise SourceError(f"X-Ray: {detail.get('Code')}: {detail.get('Message')}") from None
    except BotoCoreError as error:
        raise SourceError(f"X-Ray: {error}") from None


def from_segments(documents: list[dict[str, Any]]) -> Trace:
    """One trace from its segment documents (as BatchGetTraces returns them)."""
    spans: list[Span] = []
    trace_id = ""
    for document in documents:
        trace_id = from_xray_id(document["trace_id"])
        created_by_aws = bool(document.get("inferred")) or not _from_otel(document)
        is_segment = document.get("type") != "subsegment"
        _walk(document, trace_id, document.get("parent_id"), document["name"], created_by_aws, spans, is_segment)
    return Trace(trace_id, spans, source="xray")


def _from_otel(document: dict[str, Any]) -> bool:
    sdk = str(document.get("aws", {}).get("xray", {}).get("sdk", ""))
    return "opentelemetry" in sdk.lower()


def _walk(
    doc: dict[str, Any],
    trace_id: str,
    parent_id: str | None,
    service: str,
    aws_created: bool,
    out: list[Span],
    is_segment: bool,
) -> None:
    out.append(
        Span(
            trace_id=trace_id,
            span_id=doc["id"],
            parent_id=parent_id,
            name=doc.get("name", ""),
            kind="server" if is_segment else ("client" if doc.get("namespace") in ("aws", "remote") else "internal"),
            service=service,
            start_ns=int(float(doc.get("start_time", 0)) * 1e9),
            end_ns=int(float(doc.get("end_time", doc.get("start_time", 0))) * 1e9),
            error=bool(doc.get("error") or doc.get("fault") or doc.get("throttle")),
            status_message=_cause(doc),
            attributes=_attributes(doc),
            aws_created=aws_created,
        )
    )
    for sub in doc.get("subsegments", []):
        _walk(sub, trace_id, doc["id"], service, aws_created, out, is_segment=False)


def _cause(doc: dict[str, Any]) -> str:
    cause = doc.get("cause")
    if isinstance(cause, dict):
        exceptions = cause.get("exceptions") or []
        if exceptions:
            first = exceptions[0]
            return ": ".join(p for p in (first.get("type", ""), first.get("message", "")) if p)
    return ""


def _attributes(doc: dict[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for key, value in (doc.get("annotations") or {}).items():
        attributes[f"annotation.{key}"] = value
    for namespace, values in (doc.get("metadata") or {}).items():
        for key, value in (values or {}).items():
            attributes[f"metadata.{namespace}.{key}"] = value
    http = doc.get("http") or {}
    if "request" in http:
        attributes.update({f"http.request.{k}": v for k, v in http["request"].items()})
    if "response" in http:
        attributes.update({f"http.response.{k}": v for k, v in http["response"].items()})
    for key, value in (doc.get("aws") or {}).items():
        if key != "xray" and not isinstance(value, dict):
            attributes[f"aws.{key}"] = value
    if doc.get("origin"):
        attributes["origin"] = doc["origin"]
    if doc.get("namespace"):
        attributes["namespace"] = doc["namespace"]
    return attributes
