"""What AWS services do with the X-Ray header of a call, which the emulator (moto) does not.

Every AWS call a function makes carries `X-Amzn-Trace-Id` (botocore's instrumentation sets it from
the call's span). AWS hands that header on; moto ignores it. `TraceHeaderRelay` is WSGI middleware
in front of moto that does what AWS documents for the services this app uses:
- SQS (SendMessage, SendMessageBatch): stores it as the message's `AWSTraceHeader` system attribute,
  unless the message sets that attribute itself (which wins, as in SQS);
- DynamoDB writes and stream reads never overlap (`stream_read`): moto stores a new item's key,
  emits the stream record, then applies the update to the stored item, so a reader in between
  gets an INSERT with the key alone (no attributes, no trace context), where DynamoDB emits the
  whole new image;
- SNS (Publish), EventBridge (PutEvents; an entry's own `TraceHeader` wins) and S3 (PutObject):
  pass it to the Lambda functions they invoke. The relay remembers it under what the invoked
  function's event names — the SNS message id, the EventBridge event id, the S3 bucket, key and
  ETag — so the local Lambda service can hand it on (tracectl/emulation/lambda_trace_header.py).
Headers X-Ray would reject (`Root` not `1-<8 hex>-<24 hex>`) are dropped, as EventBridge documents.
Only the JSON protocol of SQS and EventBridge and the query protocol of SNS are understood: what
boto3 speaks to them.
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, unquote

from werkzeug.serving import BaseWSGIServer, make_server

_VALID = re.compile(r"(^|;)\s*Root=1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24}(;|$)")
_SNS_MESSAGE_ID = re.compile(rb"<MessageId>([^<]+)</MessageId>")
_TABLE_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def valid_header(header: str | None) -> bool:
    return bool(header and _VALID.search(header))


class TraceHeaderRelay:
    """WSGI middleware: `TraceHeaderRelay(moto_app)`; then `sns()`, `eventbridge()`, `s3()` look headers up."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._changed = threading.Condition()
        self._headers: dict[tuple[str, ...], str] = {}
        self._in_flight = 0
        self._table_writes = 0
        self._reading_stream = False
        """Publish, PutEvents and PutObject calls moto is handling: their events may already be in a
        queue (moto delivers before it answers) while their headers are not remembered yet."""

    def sns(self, message_id: str) -> str | None:
        return self._get(("sns", message_id))

    def eventbridge(self, event_id: str) -> str | None:
        return self._get(("events", event_id))

    def s3(self, bucket: str, key: str, etag: str) -> str | None:
        return self._get(("s3", bucket, key, etag.strip('"')))

    def _get(self, key: tuple[str, ...]) -> str | None:
        """The header remembered under `key`; waits (≤ 5 s) while a call that may remember it is in flight."""
        with self._changed:
            self._changed.wait_for(lambda: key in self._headers or self._in_flight == 0, timeout=5.0)
            return self._headers.get(key)

    def _remember(self, key: tuple[str, ...], header: str) -> None:
        with self._changed:
            self._headers[key] = header

    @contextmanager
    def stream_read(self) -> Iterator[None]:
        """Hold DynamoDB writes back while the caller reads the table's stream (after those in flight end)."""
        with self._changed:
            self._changed.wait_for(lambda: self._table_writes == 0, timeout=5.0)
            self._reading_stream = True
        try:
            yield
        finally:
            with self._changed:
                self._reading_stream = False
                self._changed.notify_all()

    @contextmanager
    def _table_write(self) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: not self._reading_stream, timeout=5.0)
            self._table_writes += 1
        try:
            yield
        finally:
            with self._changed:
                self._table_writes -= 1
                self._changed.notify_all()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET", "").partition(".")[2] in _TABLE_WRITES:
            with self._table_write():
                return list(self._relay(environ, start_response))
        return self._relay(environ, start_response)

    def _relay(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        header = environ.get("HTTP_X_AMZN_TRACE_ID")
        if not valid_header(header):
            return self._app(environ, start_response)
        assert header is not None
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target in ("AmazonSQS.SendMessage", "AmazonSQS.SendMessageBatch"):
            body = json.loads(_read_body(environ) or b"{}")
            for message in body.get("Entries", []) if target.endswith("Batch") else [body]:
                system = message.setdefault("MessageSystemAttributes", {})
                system.setdefault("AWSTraceHeader", {"DataType": "String", "StringValue": header})
            _replace_body(environ, json.dumps(body).encode())
            return self._app(environ, start_response)
        if target == "AWSEvents.PutEvents":
            entries = json.loads(_read_body(environ) or b"{}").get("Entries", [])
            with self._handing_on():
                _status, _headers, answer = self._call(environ, start_response)
                results = json.loads(answer or b"{}").get("Entries", [])
                for entry, result in zip(entries, results, strict=False):
                    own = entry.get("TraceHeader")
                    if "EventId" in result and valid_header(own or header):
                        self._remember(("events", result["EventId"]), own or header)
            return [answer]
        method = environ.get("REQUEST_METHOD")
        if method == "POST" and "HTTP_X_AMZ_TARGET" not in environ:
            form = parse_qs((_read_body(environ) or b"").decode(errors="replace"))
            if form.get("Action") == ["Publish"]:
                with self._handing_on():
                    _status, _headers, answer = self._call(environ, start_response)
                    for message_id in _SNS_MESSAGE_ID.findall(answer):
                        self._remember(("sns", message_id.decode()), header)
                return [answer]
        if method == "PUT" and "HTTP_X_AMZ_COPY_SOURCE" not in environ:
            bucket, _, key = unquote(environ.get("PATH_INFO", "")).lstrip("/").partition("/")
            with self._handing_on():
                status, headers, answer = self._call(environ, start_response)
                etag = dict((k.lower(), v) for k, v in headers).get("etag")
                if status.startswith("200") and key and etag and "partNumber" not in environ.get("QUERY_STRING", ""):
                    self._remember(("s3", bucket, key, etag.strip('"')), header)
            return [answer]
        return self._app(environ, start_response)

    def _call(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> tuple[str, list, bytes]:
        """Run moto, keep its answer to read it, then pass the answer on unchanged."""
        seen: dict[str, Any] = {}

        def keep(status: str, headers: list, exc_info: Any = None) -> Callable[[bytes], None]:
            seen.update(status=status, headers=headers)
            return start_response(status, headers, exc_info)

        body = b"".join(self._app(environ, keep))
        return seen.get("status", ""), seen.get("headers", []), body

    @contextmanager
    def _handing_on(self) -> Iterator[None]:
        """Around a call whose events moto delivers before it answers, until its header is remembered."""
        with self._changed:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()


def _read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    _replace_body(environ, body)
    return body


def _replace_body(environ: dict[str, Any], body: bytes) -> None:
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


def serve_moto() -> tuple[BaseWSGIServer, TraceHeaderRelay]:
    """moto's server app behind the relay, on a free 127.0.0.1 port, serving on a thread of its own."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

    relay = TraceHeaderRelay(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, relay, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, name="moto", daemon=True).start()
    return server, relay
