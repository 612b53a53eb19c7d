"""The handler decorator: one span per invocation, parented from wherever the event came from.

- API Gateway (REST proxy): a SERVER span `GET /{proxy+}`, parent from the request headers
  (`traceparent`, `X-Amzn-Trace-Id`) through the configured propagators, which include Lambda's
  `_X_AMZN_TRACE_ID` when `OTEL_PROPAGATORS` has `xray-lambda`.
- SNS / SQS: a CONSUMER span `<topic|queue> process`. One record: parent from the record's
  message attributes (or SQS `AWSTraceHeader`). Several: parent from the first record that
  carries a context (X-Ray's own rule for batches), with a link to every record's context;
  `process_record()` then gives each record its own span in its sender's trace.
- Anything else, malformed events included: an INTERNAL span; tracing never raises.

The handler's exception is recorded (status ERROR) and re-raised unchanged; spans are flushed in
`finally` within the export timeout.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.aws import AwsXRayPropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from functions.tracing import bootstrap, events
from functions.tracing.ids import to_xray_id
from functions.tracing.logs import current_invocation

_logger = logging.getLogger(__name__)
_tracer = trace.get_tracer("functions.tracing")
_cold_start = True

# Context carried by a message wins over Lambda's own `_X_AMZN_TRACE_ID` (which for SQS starts a
# new trace): messages are read with both formats and no environment fallback.
_message_propagator = CompositePropagator(
    [TraceContextTextMapPropagator(), W3CBaggagePropagator(), AwsXRayPropagator()]
)
# Semantic-convention values (botocore's instrumentation writes `aws.sqs` on the producer side).
_MESSAGING_SYSTEM = {"sns": "aws.sns", "sqs": "aws_sqs"}
_FAAS_TRIGGER = {"api": "http", "sns": "pubsub", "sqs": "pubsub", "other": "other"}


class LambdaContext(Protocol):
    aws_request_id: str
    invoked_function_arn: str
    function_name: str


Handler = TypeVar("Handler", bound=Callable[..., Any])


def traced(handler: Handler) -> Handler:
    """Wrap a Lambda handler `(event, context) -> result` in its invocation span."""
    bootstrap.setup()

    @functools.wraps(handler)
    def wrapper(event: Any, context: LambdaContext) -> Any:
        cold_start = _take_cold_start()
        span = _start_invocation_span(event, context, cold_start)
        if span is None:
            return handler(event, context)
        token = current_invocation.set((getattr(context, "aws_request_id", None), cold_start))
        try:
            with trace.use_span(span, end_on_exit=True, record_exception=True, set_status_on_exception=True):
                result = handler(event, context)
                _record_result(span, result)
                return result
        finally:
            current_invocation.reset(token)
            bootstrap.flush()

    return wrapper  # type: ignore[return-value]


@contextmanager
def process_record(record: Any) -> Iterator[Span]:
    """A span for one record of a batch, in the trace of the message's sender when it has one.

    Linked to the batch's invocation span. An exception inside is recorded and re-raised.
    """
    span = _start_record_span(record)
    if span is None:
        yield trace.INVALID_SPAN
        return
    with trace.use_span(span, end_on_exit=True, record_exception=True, set_status_on_exception=True):
        yield span


def current_trace_ids() -> tuple[str, str] | None:
    """(32-hex trace id, X-Ray trace id) of the current span, or None outside a trace."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return f"{span_context.trace_id:032x}", to_xray_id(span_context.trace_id)


def _take_cold_start() -> bool:
    """True for this execution environment's first invocation only."""
    global _cold_start
    cold_start, _cold_start = _cold_start, False
    return cold_start


def _start_invocation_span(event: Any, context: Any, cold_start: bool) -> Span | None:
    try:
        trigger = events.trigger_of(event)
        try:
            name, kind, parent, links, attributes = _describe(trigger, event)
        except Exception:  # an event shaped like no trigger we know: still one span, as `other`
            _logger.warning("tracing: %s event not understood; traced as other", trigger, exc_info=True)
            trigger = "other"
            name, kind, parent, links, attributes = _describe(trigger, event)
        arn = getattr(context, "invoked_function_arn", None)
        attributes.update(
            {
                "faas.trigger": _FAAS_TRIGGER[trigger],
                "faas.coldstart": cold_start,
                "faas.invocation_id": str(getattr(context, "aws_request_id", "")),
            }
        )
        if isinstance(arn, str) and arn.count(":") >= 6:
            attributes["cloud.resource_id"] = arn
            attributes["cloud.account.id"] = arn.split(":")[4]
        return _tracer.start_span(name, context=parent, kind=kind, links=links, attributes=attributes)
    except Exception:  # telemetry never breaks the handler: log and go on
        _logger.warning("tracing: could not start the invocation span", exc_info=True)
        return None


def _describe(trigger: str, event: Any) -> tuple[str, SpanKind, Any, list[Link], dict[str, Any]]:
    """(span name, kind, parent context, links, attributes) for an event."""
    if trigger == "api":
        method = str(event.get("httpMethod") or "HTTP")
        route = event.get("resource") or event.get("path") or "/"
        headers = events.api_carrier(event)
        # HTTP semantic conventions as the contrib instrumentations emit them by default and
        # as the collector's awsxray exporter maps them onto the segment's `http` object.
        attributes: dict[str, Any] = {
            "http.method": method,
            "http.route": str(route),
            "http.target": str(event.get("path") or "/"),
            "http.scheme": "https",
        }
        for attribute, header in (("http.host", "host"), ("http.user_agent", "user-agent")):
            if header in headers:
                attributes[attribute] = headers[header]
        parent = propagate.extract(headers, getter=events.carrier_getter)
        return f"{method} {route}", SpanKind.SERVER, parent, [], attributes

    if trigger in ("sns", "sqs"):
        records = events.records(event)
        source = events.source_name(records[0]) or trigger
        attributes = {
            "messaging.system": _MESSAGING_SYSTEM[trigger],
            "messaging.operation.type": "process",
            "messaging.destination.name": source,
            "messaging.batch.message_count": len(records),
        }
        contexts = [_record_context(r) for r in records]
        if len(records) == 1:
            sns = records[0].get("Sns")
            message_id = records[0].get("messageId") or (sns.get("MessageId") if isinstance(sns, dict) else None)
            if isinstance(message_id, str):
                attributes["messaging.message.id"] = message_id
            parent = contexts[0] or propagate.extract({})
            return f"{source} process", SpanKind.CONSUMER, parent, [], attributes
        # As X-Ray does for Lambda: the batch joins the first traced record's trace, and links
        # every record, so no request's trace gains a stray root and each batch is findable.
        traced_contexts = [c for c in contexts if c is not None]
        links = [Link(trace.get_current_span(c).get_span_context()) for c in traced_contexts]
        parent = traced_contexts[0] if traced_contexts else propagate.extract({})
        return f"{source} process", SpanKind.CONSUMER, parent, links, attributes

    return "invocation", SpanKind.SERVER, propagate.extract({}), [], {}


def _record_context(record: dict) -> Any | None:
    carrier = events.record_carrier(record)
    if not events.has_trace_context(carrier):
        return None
    extracted = _message_propagator.extract(carrier, context=otel_context.Context(), getter=events.carrier_getter)
    return extracted if trace.get_current_span(extracted).get_span_context().is_valid else None


def _start_record_span(record: Any) -> Span | None:
    try:
        if not isinstance(record, dict):
            return _tracer.start_span("record process", kind=SpanKind.CONSUMER)
        invocation = trace.get_current_span().get_span_context()
        sender = _record_context(record)
        sender_span = trace.get_current_span(sender).get_span_context() if sender else None
        source = events.source_name(record) or "record"
        attributes: dict[str, Any] = {"messaging.operation.type": "process", "messaging.destination.name": source}
        message_id = record.get("messageId")
        if isinstance(message_id, str):
            attributes["messaging.message.id"] = message_id
        if sender_span is None or (invocation.is_valid and sender_span.trace_id == invocation.trace_id):
            # No sender context, or the invocation already continues it: a plain child.
            return _tracer.start_span(f"{source} process", kind=SpanKind.CONSUMER, attributes=attributes)
        links = [Link(invocation)] if invocation.is_valid else []
        return _tracer.start_span(
            f"{source} process", context=sender, kind=SpanKind.CONSUMER, links=links, attributes=attributes
        )
    except Exception:  # telemetry never breaks the handler: log and go on
        _logger.warning("tracing: could not start a record span", exc_info=True)
        return None


def _record_result(span: Span, result: Any) -> None:
    try:
        if not isinstance(result, dict):
            return
        status = result.get("statusCode")
        if isinstance(status, int):
            span.set_attribute("http.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
        failures = result.get("batchItemFailures")
        if isinstance(failures, list) and failures:
            span.set_attribute("faas.batch_item_failures", len(failures))
            span.set_status(Status(StatusCode.ERROR, f"{len(failures)} record(s) failed"))
    except Exception:  # telemetry never breaks the handler: log and go on
        _logger.warning("tracing: could not record the result", exc_info=True)
