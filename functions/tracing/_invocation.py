"""The handler decorator: one span per invocation, parented from wherever the event came from.

Every common trigger is recognised (`_events.trigger_of`) and named and attributed by the semantic
conventions (`_triggers`). The parent:
- HTTP (API Gateway REST/HTTP APIs, function URLs, ALB): the request headers (`traceparent`,
  `X-Amzn-Trace-Id`) through the configured propagators, which include Lambda's
  `_X_AMZN_TRACE_ID` when `OTEL_PROPAGATORS` has `xray-lambda`.
- Batches (SNS, SQS, DynamoDB Streams, Kinesis, Kafka): one record: the record's own context
  (message attributes, SQS `AWSTraceHeader`, the item's `traceparent`, Kafka headers). Several:
  the first record that carries a context (X-Ray's own rule for batches), with a link to every
  record's context; `process_record()` then gives each record its own span in its sender's trace.
- EventBridge: W3C context in `detail._trace`, else Lambda's own trace header.
- S3, schedules, WebSocket, anything else (malformed events included): Lambda's own trace header
  where the propagators read it, else a new trace. Tracing never raises.

The handler's exception is recorded (status ERROR) and re-raised unchanged. Then the span ends and
its spans are exported: after the response by the extension thread when this is the handler Lambda
calls (functions/tracing/_extension.py), else flushed in `finally` within the export timeout.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.aws import AwsXRayPropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from functions.tracing import _bootstrap, _events, _triggers
from functions.tracing._ids import to_xray_id
from functions.tracing._state import current_invocation, state, take_cold_start

_logger = logging.getLogger(__name__)
_tracer = trace.get_tracer("functions.tracing")

# Context carried by a message wins over Lambda's own `_X_AMZN_TRACE_ID` (which for SQS starts a
# new trace): messages are read with both formats and no environment fallback.
_message_propagator = CompositePropagator(
    [TraceContextTextMapPropagator(), W3CBaggagePropagator(), AwsXRayPropagator()]
)


class LambdaContext(Protocol):
    aws_request_id: str
    invoked_function_arn: str
    function_name: str


Handler = TypeVar("Handler", bound=Callable[..., Any])


def traced(handler: Handler) -> Handler:
    """Wrap a Lambda handler `(event, context) -> result` in its invocation span."""
    _bootstrap.setup()
    # Applied in the module Lambda loads the handler from: that is init, when an extension may register.
    _bootstrap.export_after_response(sys._getframe(1).f_globals.get("__name__"))

    @functools.wraps(handler)
    def wrapper(event: Any, context: LambdaContext) -> Any:
        cold_start = take_cold_start()
        request_id = getattr(context, "aws_request_id", None)
        span = _start_invocation_span(event, context, cold_start)
        outermost = state.invocation_span is None  # a traced helper inside a handler is not the invocation
        if span is None:  # tracing failed: the handler runs untraced, and the invocation still ends
            try:
                return handler(event, context)
            finally:
                if outermost:
                    _bootstrap.invocation_finished(request_id if isinstance(request_id, str) else None)
        token = current_invocation.set((request_id, cold_start))
        exiting = False
        if outermost:
            state.invocation_span = span
        try:
            with trace.use_span(span, end_on_exit=False, record_exception=True, set_status_on_exception=True):
                result = handler(event, context)
                _record_result(span, result)
                return result
        except BaseException as error:
            if not isinstance(error, Exception):  # SystemExit, KeyboardInterrupt: use_span records Exceptions only
                _record_exit(span, error)
                exiting = True
            raise
        finally:
            _end(span)
            current_invocation.reset(token)
            if outermost:
                state.invocation_span = None
                if exiting:  # the process ends now: no export after the response
                    _bootstrap.flush()
                else:
                    _bootstrap.invocation_finished(request_id if isinstance(request_id, str) else None)

    return wrapper  # type: ignore[return-value]


@contextmanager
def process_record(record: Any, carrier: Mapping[str, str] | None = None) -> Iterator[Span]:
    """A span for one record of a batch, in the trace of the message's sender when it has one.

    Linked to the batch's invocation span. An exception inside is recorded and re-raised.
    `carrier`: where the sender's context is when the record itself cannot hold it, e.g. an S3
    object's user metadata (`head_object(...)["Metadata"]`) for an S3 notification record.
    """
    span = _start_record_span(record, carrier)
    if span is None:
        yield trace.INVALID_SPAN
        return
    try:
        with trace.use_span(span, end_on_exit=False, record_exception=True, set_status_on_exception=True):
            yield span
    finally:
        _end(span)


def current_trace_ids() -> tuple[str, str] | None:
    """(32-hex trace id, X-Ray trace id) of the current span, or None outside a trace."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return f"{span_context.trace_id:032x}", to_xray_id(span_context.trace_id)


def _end(span: Span) -> None:
    """End `span` unless something already did (a timeout); a span processor that raises is not our caller's problem."""
    try:
        if span.is_recording():
            span.end()
    except Exception:  # telemetry never breaks the handler: log and go on
        _logger.warning("tracing: ending a span failed", exc_info=True)


def _start_invocation_span(event: Any, context: Any, cold_start: bool) -> Span | None:
    try:
        trigger = _events.trigger_of(event)
        try:
            name, kind, parent, links, attributes = _describe(trigger, event)
        except Exception:  # an event shaped like no trigger we know: still one span, as `other`
            _logger.warning("tracing: %s event not understood; traced as other", trigger, exc_info=True)
            trigger = "other"
            name, kind, parent, links, attributes = _describe(trigger, event)
        arn = getattr(context, "invoked_function_arn", None)
        attributes.update(
            {
                "faas.trigger": _triggers.FAAS_TRIGGER[trigger],
                "faas.coldstart": cold_start,
                "faas.invocation_id": str(getattr(context, "aws_request_id", "")),
            }
        )
        if isinstance(arn, str) and arn.count(":") >= 6:
            # The function's ARN without a qualifier: an alias or version (`:live` under SnapStart) is
            # not part of the resource, as the conventions (and contrib's Lambda instrumentation) say.
            attributes["cloud.resource_id"] = ":".join(arn.split(":")[:7])
            attributes["cloud.account.id"] = arn.split(":")[4]
        return _tracer.start_span(name, context=parent, kind=kind, links=links, attributes=attributes)
    except Exception:  # telemetry never breaks the handler: log and go on
        _logger.warning("tracing: could not start the invocation span", exc_info=True)
        return None


def _describe(trigger: str, event: Any) -> tuple[str, SpanKind, Any, list[Link], dict[str, Any]]:
    """(span name, kind, parent context, links, attributes) for an event."""
    description = _triggers.describe(trigger, event)
    name, kind, attributes = description.name, description.kind, description.attributes
    if trigger in _events.HTTP_TRIGGERS:
        parent = propagate.extract(_triggers.http_headers(trigger, event), getter=_events.carrier_getter)
        return name, kind, parent, [], attributes
    if trigger in _events.BATCH_TRIGGERS:
        contexts = [_record_context(r) for r in _events.records(event)]
        if len(contexts) == 1:
            return name, kind, contexts[0] or propagate.extract({}), [], attributes
        # As X-Ray does for Lambda: the batch joins the first traced record's trace, and links
        # every record, so no request's trace gains a stray root and each batch is findable.
        traced_contexts = [c for c in contexts if c is not None]
        links = [Link(trace.get_current_span(c).get_span_context()) for c in traced_contexts]
        parent = traced_contexts[0] if traced_contexts else propagate.extract({})
        return name, kind, parent, links, attributes
    if trigger == "eventbridge":
        carried = _carried_context(_events.eventbridge_carrier(event))
        return name, kind, carried or propagate.extract({}), [], attributes
    # S3, schedules, WebSocket, anything else: no context in the event itself. With `xray-lambda`
    # the propagators read Lambda's own trace header, whatever the invoking service handed on.
    return name, kind, propagate.extract({}), [], attributes


def _record_context(record: dict) -> Any | None:
    return _carried_context(_events.record_carrier(record))


def _carried_context(carrier: dict[str, str]) -> Any | None:
    """The sender's context a message carries (W3C or X-Ray), or None."""
    if not _events.has_trace_context(carrier):
        return None
    extracted = _message_propagator.extract(carrier, context=otel_context.Context(), getter=_events.carrier_getter)
    return extracted if trace.get_current_span(extracted).get_span_context().is_valid else None


def _start_record_span(record: Any, carrier: Mapping[str, str] | None = None) -> Span | None:
    try:
        if not isinstance(record, dict):
            return _tracer.start_span("record process", kind=SpanKind.CONSUMER)
        invocation = trace.get_current_span().get_span_context()
        if isinstance(carrier, Mapping):
            sender = _carried_context({str(k).lower(): v for k, v in carrier.items() if isinstance(v, str)})
        else:
            sender = _record_context(record)
        sender_span = trace.get_current_span(sender).get_span_context() if sender else None
        source = _events.source_name(record) or "record"
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


def _record_exit(span: Span, error: BaseException) -> None:
    """Lambda reports an invocation whose handler exits the process as failed (Runtime.ExitError): so does the span."""
    try:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
    except Exception:  # telemetry never breaks the handler: log and go on
        _logger.warning("tracing: could not record the exit", exc_info=True)


def _record_result(span: Span, result: Any) -> None:
    try:
        if not isinstance(result, dict):
            return
        status = result.get("statusCode")
        if isinstance(status, int):
            span.set_attribute(HTTP_RESPONSE_STATUS_CODE, status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
        failures = result.get("batchItemFailures")
        if isinstance(failures, list) and failures:
            span.set_attribute("faas.batch_item_failures", len(failures))
            span.set_status(Status(StatusCode.ERROR, f"{len(failures)} record(s) failed"))
    except Exception:  # telemetry never breaks the handler: log and go on
        _logger.warning("tracing: could not record the result", exc_info=True)
