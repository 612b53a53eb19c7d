"""An embedded OTLP/HTTP trace receiver on 127.0.0.1, writing the Collector file-exporter format.

Accepts `POST /v1/traces` (protobuf or JSON, optionally gzip), decodes with opentelemetry-proto,
and appends one OTLP JSON `ExportTraceServiceRequest` per line to a file (trace and span ids as
hex, as OTLP JSON requires) — the format `tracectl traces` and the Collector's file exporter share.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import urllib3
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def to_otlp_json(request: ExportTraceServiceRequest) -> dict[str, Any]:
    """OTLP JSON for a request: lowerCamelCase names, integer enums, hex ids."""
    document = json_format.MessageToDict(request, use_integers_for_enums=True)
    for resource_spans in document.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                _hex_ids(span)
                for link in span.get("links", []):
                    _hex_ids(link)
    return document


def _hex_ids(item: dict[str, Any]) -> None:
    for key in _ID_FIELDS:
        if item.get(key):
            item[key] = base64.b64decode(item[key]).hex()


class OtlpReceiver:
    """Use as a context manager: `with OtlpReceiver(path) as r: ... r.endpoint`. Stops on exit."""

    def __init__(
        self, out_file: Path, forward_to: str | None = None, *, answer_after_s: float = 0.0, port: int = 0
    ) -> None:
        """`forward_to`: another OTLP/HTTP base URL (e.g. Jaeger's) that gets every request too.
        `answer_after_s`: answer each export that much later, as a collector that exports before it
        answers (the ADOT layer's) makes its callers wait for the backend. `port`: 0 for any free one."""
        self.out_file = out_file
        self.forward_failures = 0
        self.received_at: list[float] = []
        """When each export request arrived (time.monotonic()), in order."""
        self._answer_after_s = answer_after_s
        self._forward_to = forward_to.rstrip("/") + "/v1/traces" if forward_to else None
        self._http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=1.0, read=5.0), retries=False)
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: exporters reuse one connection
            disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart

            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/v1/traces":
                    self.send_error(404)
                    return
                try:
                    body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                    if self.headers.get("Content-Encoding") == "gzip":
                        body = gzip.decompress(body)
                    request = ExportTraceServiceRequest()
                    if self.headers.get("Content-Type", "").startswith("application/json"):
                        json_format.Parse(body, request)
                    else:
                        request.ParseFromString(body)
                except Exception:  # noqa: BLE001 - a malformed request is answered 400, never crashes the sink
                    self.send_error(400, "not an OTLP ExportTraceServiceRequest")
                    return
                with receiver._lock:
                    receiver.received_at.append(time.monotonic())
                # Kept before it is answered: the exporter's process may be gone by then (a Lambda timeout).
                receiver._write(request)
                if receiver._answer_after_s:
                    time.sleep(receiver._answer_after_s)
                payload = ExportTraceServiceResponse().SerializeToString()
                with contextlib.suppress(OSError):  # the exporter gave up waiting, or its process ended
                    self.send_response(200)
                    self.send_header("Content-Type", "application/x-protobuf")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    self.wfile.flush()
                if receiver._forward_to:
                    receiver._forward(body, self.headers.get("Content-Type", "application/x-protobuf"))

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-receiver", daemon=True)

    @property
    def endpoint(self) -> str:
        """Base URL for OTEL_EXPORTER_OTLP_ENDPOINT (the exporter appends /v1/traces)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> OtlpReceiver:
        self.out_file.parent.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _forward(self, body: bytes, content_type: str) -> None:
        assert self._forward_to is not None
        try:
            response = self._http.request("POST", self._forward_to, body=body, headers={"Content-Type": content_type})
            ok = response.status < 300
        except urllib3.exceptions.HTTPError:
            ok = False
        if not ok:
            with self._lock:
                self.forward_failures += 1

    def _write(self, request: ExportTraceServiceRequest) -> None:
        line = json.dumps(to_otlp_json(request), separators=(",", ":"))
        with self._lock:
            with self.out_file.open("a") as f:
                f.write(line + "\n")
