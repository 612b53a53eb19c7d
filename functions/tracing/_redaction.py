"""Nothing secret leaves a function in a span or a log line.

Redacted to `REDACTED`, as the OpenTelemetry HTTP semantic conventions describe for `url.full`:
- user and password in a URL's authority: `https://REDACTED:REDACTED@host/…`;
- the values of query parameters that carry credentials (`SENSITIVE_QUERY_PARAMETERS`, names
  matched without regard to case), in URLs anywhere in a value: `http.url`, an exception's
  message and stack trace, a status message, a log line;
- the whole value of an attribute that holds a captured `Authorization`, `Cookie`, `Set-Cookie`
  or `X-Amz-Security-Token` header (`http.request.header.authorization`, …).
`RedactingExporter` applies this to every span on its way out — ours and the instrumentations'
alike — so no instrumentation needs to know. Spans with nothing to redact pass unchanged (one
substring test per string value). Nothing here raises.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status

_logger = logging.getLogger(__name__)
REDACTED = "REDACTED"
SENSITIVE_QUERY_PARAMETERS = frozenset(
    name.lower()
    for name in (
        "AWSAccessKeyId",
        "Signature",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "X-Amz-Security-Token",
        "sig",
        "token",
        "code",
    )
)
SENSITIVE_HEADERS = frozenset(("authorization", "cookie", "set-cookie", "x-amz-security-token"))
# What the instrumentations name captured headers (`http.request.header.<lower-case name>`).
_HEADER_ATTRIBUTE = re.compile(r"http\.(?:request|response)\.header\.(.+)")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")


def redact_url(url: str) -> str:
    """`url` with its credentials and credential-carrying query values replaced by REDACTED."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{REDACTED}:{REDACTED}@{netloc.rsplit('@', 1)[1]}"
        query = "&".join(_redact_pair(pair) for pair in parts.query.split("&")) if parts.query else ""
        if netloc == parts.netloc and query == parts.query:
            return url
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:  # not a URL after all: nothing to take out
        return url


def _redact_pair(pair: str) -> str:
    name, separator, _ = pair.partition("=")
    return f"{name}={REDACTED}" if separator and unquote_plus(name).lower() in SENSITIVE_QUERY_PARAMETERS else pair


def redact_text(text: str) -> str:
    """Every URL inside `text` redacted; a bare request target (`/path?query`) too."""
    if "://" in text:
        return _URL.sub(lambda match: redact_url(match.group(0)), text)
    if text.startswith("/") and "?" in text:
        return redact_url(text)
    return text


def redact_attribute(key: str, value: Any) -> Any:
    """The value to export for attribute `key` (the very same object when nothing is secret)."""
    header = _HEADER_ATTRIBUTE.fullmatch(key)
    if header and header.group(1).replace("_", "-") in SENSITIVE_HEADERS:
        return (REDACTED,) if isinstance(value, Sequence) and not isinstance(value, str) else REDACTED
    if isinstance(value, str):
        redacted = redact_text(value)
        return value if redacted == value else redacted
    if isinstance(value, Sequence) and not isinstance(value, bytes) and any(isinstance(v, str) for v in value):
        items = tuple(redact_text(v) if isinstance(v, str) else v for v in value)
        return value if items == tuple(value) else items
    return value


def redact_attributes(attributes: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """A redacted copy of `attributes`, or the same mapping when nothing in it is secret."""
    if not attributes:
        return attributes
    changed: dict[str, Any] | None = None
    for key, value in attributes.items():
        redacted = redact_attribute(key, value)
        if redacted is not value:
            changed = changed if changed is not None else dict(attributes)
            changed[key] = redacted
    return attributes if changed is None else changed


def redact_span(span: ReadableSpan) -> ReadableSpan:
    """`span` itself when nothing in it is secret, else a copy with every secret replaced."""
    attributes = redact_attributes(span.attributes)
    events = [_redact_event(event) for event in span.events]
    description = span.status.description
    redacted_description = redact_text(description) if description else description
    if attributes is span.attributes and description == redacted_description and all(
        new is old for new, old in zip(events, span.events, strict=True)
    ):
        return span
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=events,
        links=span.links,
        kind=span.kind,
        status=Status(span.status.status_code, redacted_description),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def _redact_event(event: Event) -> Event:
    attributes = redact_attributes(event.attributes)
    if attributes is event.attributes:
        return event
    return Event(event.name, attributes, event.timestamp)


class RedactingExporter(SpanExporter):
    """Wraps the real exporter: every span is redacted (`redact_span`) before it is exported."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            spans = [redact_span(span) for span in spans]
        except Exception:  # never export what could not be checked: drop the batch, say so once
            _logger.exception("tracing: redaction failed; %d span(s) not exported", len(spans))
            return SpanExportResult.FAILURE
        return self.inner.export(spans)

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)
