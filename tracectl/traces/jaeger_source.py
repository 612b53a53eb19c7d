"""Traces from Jaeger's query API, normalised to `trace_model.Trace`.

`/api/v3/traces/{id}` answers OTLP JSON (`{"result": {"resourceSpans": ...}}`), read with the same
code as the demo's files; the legacy `/api/traces/{id}` answers Jaeger JSON (`{"data": [...]}`).
The v3 API is tried first. Ids may come hex (OTLP JSON) or base64 (protobuf JSON): both are read.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import urllib3

from tracectl.traces.trace_model import Event, SourceError, Span, Trace, group, spans_from_otlp_json

_HEX = re.compile(r"[0-9a-f]+")


class JaegerSource:
    """`sign(method, url, headers) -> headers` signs each request (the deployed Jaeger takes IAM only)."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        sign: Callable[[str, str, Mapping[str, str]], dict[str, str]] | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = headers or {}
        self._sign = sign
        self._http = urllib3.PoolManager(timeout=urllib3.Timeout(total=timeout_s), retries=False)

    def fetch(self, trace_id: str) -> Trace | None:
        """The trace, or None if Jaeger does not have it (yet). SourceError if Jaeger cannot be read."""
        document = self._get(f"/api/v3/traces/{trace_id}")
        if document is not None:
            return from_api_v3(document).get(trace_id)
        document = self._get(f"/api/traces/{trace_id}")
        return from_legacy(document).get(trace_id) if document is not None else None

    def services(self) -> list[str]:
        """The services Jaeger holds spans of (query API v3)."""
        document = self._get("/api/v3/services") or {}
        return sorted(document.get("services") or [])

    def search(self, service: str, start: datetime, end: datetime, *, limit: int = 100) -> dict[str, Trace]:
        """Whole traces with a span of `service` that started between `start` and `end` (query API v3)."""
        query = urlencode(
            {
                "query.service_name": service,
                "query.start_time_min": start.isoformat(),
                "query.start_time_max": end.isoformat(),
                "query.num_traces": limit,
            }
        )
        document = self._get(f"/api/v3/traces?{query}")
        return from_api_v3(document) if document is not None else {}

    def _get(self, path: str) -> dict[str, Any] | None:
        url = self.base_url + path
        headers = self._sign("GET", url, self._headers) if self._sign else self._headers
        try:
            response = self._http.request("GET", url, headers=headers)
        except urllib3.exceptions.HTTPError as error:
            raise SourceError(f"Jaeger at {self.base_url} is unreachable: {error}") from None
        if response.status == 404:
            return None
        if response.status in (401, 403):
            why = "may your AWS credentials call execute-api:Invoke on it?" if self._sign else "check --jaeger-header"
            raise SourceError(f"Jaeger at {self.base_url} refused the request ({response.status}): {why}")
        if response.status >= 400:
            raise SourceError(f"Jaeger at {self.base_url}{path} answered {response.status}")
        try:
            return json.loads(response.data)
        except ValueError:
            raise SourceError(f"Jaeger at {self.base_url}{path} did not answer JSON") from None


def _hex(value: str) -> str:
    if len(value) in (16, 32) and _HEX.fullmatch(value.lower()):
        return value.lower()
    try:
        return base64.b64decode(value).hex()
    except (binascii.Error, ValueError):
        return value


def from_api_v3(document: dict[str, Any]) -> dict[str, Trace]:
    result = document.get("result", document)
    for resource_spans in result.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if span.get(key):
                        span[key] = _hex(span[key])
                for link in span.get("links", []):
                    link["traceId"], link["spanId"] = _hex(link["traceId"]), _hex(link["spanId"])
    return group(spans_from_otlp_json(result))


_KIND_TAG = {"server": "server", "client": "client", "producer": "producer", "consumer": "consumer"}


def from_legacy(document: dict[str, Any]) -> dict[str, Trace]:
    spans: list[Span] = []
    for trace in document.get("data") or []:
        processes = trace.get("processes", {})
        for s in trace.get("spans", []):
            tags = {t["key"]: t.get("value") for t in s.get("tags", [])}
            parents = [r for r in s.get("references", []) if r.get("refType") == "CHILD_OF"]
            links = tuple(
                (_hex(r["traceID"]).zfill(32), _hex(r["spanID"]).zfill(16))
                for r in s.get("references", [])
                if r.get("refType") == "FOLLOWS_FROM"
            )
            start_us = int(s.get("startTime", 0))
            kind = _KIND_TAG.get(str(tags.pop("span.kind", "")), "internal")
            error = tags.pop("otel.status_code", None) == "ERROR" or tags.pop("error", False) is True
            spans.append(
                Span(
                    trace_id=_hex(s["traceID"]).zfill(32),
                    span_id=_hex(s["spanID"]).zfill(16),
                    parent_id=_hex(parents[0]["spanID"]).zfill(16) if parents else None,
                    name=s.get("operationName", ""),
                    kind=kind,
                    service=processes.get(s.get("processID"), {}).get("serviceName", "unknown"),
                    start_ns=start_us * 1000,
                    end_ns=(start_us + int(s.get("duration", 0))) * 1000,
                    error=error,
                    status_message=str(tags.pop("otel.status_description", "")),
                    attributes={k: v for k, v in tags.items() if not k.startswith(("otel.", "internal."))},
                    links=links,
                    events=tuple(_legacy_event(log) for log in s.get("logs") or []),
                )
            )
    return group(spans)


def _legacy_event(log: dict[str, Any]) -> Event:
    """A Jaeger JSON log (microseconds, `fields`, the OTel event's name under `event`) as a span event."""
    fields = {f["key"]: f.get("value") for f in log.get("fields", [])}
    return Event(int(log.get("timestamp", 0)) * 1000, str(fields.pop("event", "log")), fields)
