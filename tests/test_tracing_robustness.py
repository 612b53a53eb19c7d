"""Tracing never fails the handler: malformed events, attribute limits, bad annotation input."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind

import functions.tracing as tracing
from functions.tracing import add_metadata, annotate, get_logger
from functions.tracing._message_injection import inject_trace_context
from tests.events import LocalContext

MALFORMED = [
    None,
    [],
    "a string",
    {},
    {"Records": "not a list"},
    {"Records": [None, 3, "x"]},
    {"Records": [{"eventSource": "aws:sqs", "messageAttributes": "bad", "attributes": ["bad"]}]},
    {"Records": [{"eventSource": "aws:sqs", "messageAttributes": {"traceparent": {"stringValue": 7}}}]},
    {"Records": [{"EventSource": "aws:sns", "Sns": None}]},
    {
        "Records": [
            {
                "EventSource": "aws:sns",
                "Sns": {"MessageAttributes": {"traceparent": {"Type": "String", "Value": "garbage"}}},
            }
        ]
    },
    {
        "httpMethod": "GET",
        "requestContext": {},
        "headers": {"traceparent": "00-zz-yy-01", "X-Amzn-Trace-Id": "Root=nonsense"},
    },
    {"httpMethod": None, "requestContext": {}, "headers": None, "path": 12},
]


@pytest.mark.parametrize("event", MALFORMED, ids=[f"event{i}" for i in range(len(MALFORMED))])
@pytest.mark.parametrize("name", ["dynamo", "sns_subscriber", "sqs_subscriber", "sqs", "sns"])
def test_malformed_events_never_raise_from_tracing(handler, spans, name: str, event: object) -> None:
    # GIVEN a handler whose own logic tolerates junk, WHEN it gets a malformed event,
    # THEN it returns normally and still produces its invocation span
    result = handler(name)(event, LocalContext(name))
    assert isinstance(result, dict)
    invocation = [s for s in spans() if s.attributes.get("faas.invocation_id")]
    assert len(invocation) == 1


def test_ingest_with_junk_still_answers(handler, spans) -> None:
    response = handler("ingest")({"httpMethod": "GET", "requestContext": {}, "path": 12}, LocalContext("ingest"))
    assert response["statusCode"] == 200
    [server] = [s for s in spans() if s.kind == SpanKind.SERVER]
    assert json.loads(response["body"])["path"] == "/"
    assert server.parent is None  # junk headers never became a parent


def test_the_handlers_own_exception_propagates_unchanged(span_exporter) -> None:
    from functions.tracing import traced

    class BoomError(Exception):
        pass

    original = BoomError("mine")

    @traced
    def fails(event, context):
        raise original

    with pytest.raises(BoomError) as raised:
        fails({}, LocalContext("x"))
    assert raised.value is original


def test_a_handler_that_exits_marks_its_span_an_error_and_exits_unchanged(spans) -> None:
    from functions.tracing import traced

    @traced
    def exits(event, context):
        raise SystemExit(3)

    with pytest.raises(SystemExit) as raised:
        exits({}, LocalContext("x"))
    assert raised.value.code == 3
    [span] = spans()
    assert span.status.status_code.name == "ERROR" and span.status.description == "SystemExit: 3"
    assert [e.name for e in span.events] == ["exception"]


def test_the_resource_id_is_the_function_without_the_alias_it_was_invoked_by(spans) -> None:
    from functions.tracing import traced

    class ThroughAlias(LocalContext):
        @property
        def invoked_function_arn(self) -> str:
            return super().invoked_function_arn + ":live"  # every trigger invokes `live` under SnapStart

    traced(lambda event, context: None)({}, ThroughAlias("ingest"))
    [span] = spans()
    assert span.attributes["cloud.resource_id"] == "arn:aws:lambda:us-east-1:123456789012:function:ingest"


def test_setup_is_idempotent(span_exporter) -> None:
    provider = tracing.setup()
    processors = len(provider._active_span_processor._span_processors)
    assert tracing.setup() is provider and tracing.setup(exporter=span_exporter) is provider
    assert len(provider._active_span_processor._span_processors) == processors == 1


def message(**attributes: str) -> dict:
    return {
        "QueueUrl": "q",
        "MessageBody": "b",
        "MessageAttributes": {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
    }


def with_span(fn):
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("send", kind=SpanKind.PRODUCER) as span:
        fn(span)
        return span


def test_injection_adds_context_beside_user_attributes(span_exporter) -> None:
    params = message(origin="me")
    span = with_span(lambda s: inject_trace_context(s, "sqs", "SendMessage", params))
    attributes = params["MessageAttributes"]
    assert attributes["origin"]["StringValue"] == "me"
    assert attributes["traceparent"]["StringValue"].split("-")[2] == f"{span.context.span_id:016x}"


def test_injection_never_overwrites_a_users_trace_attribute(span_exporter) -> None:
    params = message(traceparent="00-11111111111111111111111111111111-2222222222222222-01")
    with_span(lambda s: inject_trace_context(s, "sqs", "SendMessage", params))
    assert (
        params["MessageAttributes"]
        == message(traceparent="00-11111111111111111111111111111111-2222222222222222-01")["MessageAttributes"]
    )


def test_injection_respects_the_ten_attribute_limit(span_exporter) -> None:
    full = message(**{f"a{i}": "v" for i in range(9)})
    with_span(lambda s: inject_trace_context(s, "sqs", "SendMessage", full))
    assert len(full["MessageAttributes"]) == 9  # 9 + traceparent + X-Amzn-Trace-Id would exceed 10
    roomy = message(**{f"a{i}": "v" for i in range(8)})
    with_span(lambda s: inject_trace_context(s, "sqs", "SendMessage", roomy))
    assert len(roomy["MessageAttributes"]) == 10


def test_injection_covers_every_batch_entry_and_ignores_junk(span_exporter) -> None:
    params = {
        "QueueUrl": "q",
        "Entries": [
            {"Id": "1", "MessageBody": "a"},
            "junk",
            {"Id": "2", "MessageBody": "b", "MessageAttributes": "bad"},
        ],
    }
    with_span(lambda s: inject_trace_context(s, "sqs", "SendMessageBatch", params))
    assert "traceparent" in params["Entries"][0]["MessageAttributes"]
    assert params["Entries"][2]["MessageAttributes"] == "bad"
    inject_trace_context(None, "sqs", "SendMessage", None)  # nothing to do, no error


def test_annotate_and_metadata_reach_the_span_in_both_vocabularies(span_exporter) -> None:
    span = with_span(
        lambda s: (
            annotate("order_id", "42"),
            annotate("order_id", "43"),
            annotate("bad key!", "x"),
            annotate("amount", 9.5),
            add_metadata("payload", {"a": [1, 2]}),
        )
    )
    assert span.attributes["order_id"] == "43"
    assert span.attributes["amount"] == 9.5
    assert span.attributes["aws.xray.annotations"] == ("order_id", "amount")
    assert "bad key!" not in span.attributes
    assert json.loads(span.attributes["aws.xray.metadata.payload"]) == {"a": [1, 2]}


def test_log_lines_carry_both_trace_id_forms(span_exporter, capsys) -> None:
    log = get_logger("tests.logs")
    span = with_span(lambda s: log.info("hello", extra={"fields": {"k": "v"}}))
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    hex_id = f"{span.context.trace_id:032x}"
    assert line["trace_id"] == hex_id
    assert line["xray_trace_id"] == f"1-{hex_id[:8]}-{hex_id[8:]}"
    assert line["span_id"] == f"{span.context.span_id:016x}"
    assert (line["message"], line["level"], line["k"]) == ("hello", "INFO", "v")
    assert logging.getLogger("tests.logs").propagate is False
