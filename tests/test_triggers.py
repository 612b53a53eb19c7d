"""Every common Lambda trigger, from AWS's documented event shapes (tests/fixtures/events/), gets
the invocation span the semantic conventions describe, and the parent its event can carry."""

from __future__ import annotations

import json
import uuid

import pytest
from opentelemetry.trace import SpanKind

from functions.tracing import _events as events
from functions.tracing import process_record
from tests.events import EVENTS, LocalContext, canned

W3C_TRACE = "5f8a1b2c0af7651916cd43dd8448eb21"  # the traceparent the fixtures carry
W3C_SPAN = "b7ad6b7169203331"

# fixture → (trigger, faas.trigger, kind, span name, attributes the span must have)
EXPECTED = {
    "apigw_rest_v1": (
        "api",
        "http",
        SpanKind.SERVER,
        "GET /{proxy+}",
        {"http.request.method": "GET", "url.path": "/orders/1"},
    ),
    "apigw_http_v2": (
        "http_api",
        "http",
        SpanKind.SERVER,
        "GET /orders/{id}",
        {
            "http.request.method": "GET",
            "http.route": "/orders/{id}",
            "url.path": "/orders/42",
            "user_agent.original": "curl/8.5.0",
        },
    ),
    "function_url": (
        "function_url",
        "http",
        SpanKind.SERVER,
        "POST /my/path",
        {
            "http.request.method": "POST",
            "url.path": "/my/path",
            "server.address": "abcdefg123.lambda-url.us-east-1.on.aws",
        },
    ),
    "alb_multi_value": (
        "alb",
        "http",
        SpanKind.SERVER,
        "GET /lambda",
        {
            "http.request.method": "GET",
            "url.scheme": "http",
            "server.address": "lambda-alb-123578498.us-east-2.elb.amazonaws.com",
        },
    ),
    "websocket_message": ("websocket", "other", SpanKind.SERVER, "WebSocket sendmessage", {}),
    "sns": ("sns", "pubsub", SpanKind.CONSUMER, "ingest process", {"messaging.system": "aws.sns"}),
    "sqs": ("sqs", "pubsub", SpanKind.CONSUMER, "work process", {"messaging.system": "aws_sqs"}),
    "kinesis": (
        "kinesis",
        "pubsub",
        SpanKind.CONSUMER,
        "lambda-stream process",
        {"messaging.system": "aws.kinesis", "messaging.destination.name": "lambda-stream"},
    ),
    "msk_kafka": ("kafka", "pubsub", SpanKind.CONSUMER, "mytopic process", {"messaging.system": "kafka"}),
    "self_managed_kafka": (
        "kafka",
        "pubsub",
        SpanKind.CONSUMER,
        "orders process",
        {"messaging.batch.message_count": 2},
    ),
    "s3_put": (
        "s3",
        "datasource",
        SpanKind.SERVER,
        "uploads-bucket insert",
        {
            "faas.document.collection": "uploads-bucket",
            "faas.document.operation": "insert",
            "faas.document.name": "b21b84d653bb07b05b1e6b33684dc11b",
            "faas.document.time": "2019-09-03T19:37:27.192Z",
        },
    ),
    "dynamodb_stream": (
        "dynamodb",
        "datasource",
        SpanKind.CONSUMER,
        "hits process",
        {"faas.document.collection": "hits", "faas.document.operation": "edit", "messaging.batch.message_count": 2},
    ),
    "eventbridge": (
        "eventbridge",
        "pubsub",
        SpanKind.CONSUMER,
        "aws.rds process",
        {"messaging.destination.name": "aws.rds"},
    ),
    "eventbridge_traced": (
        "eventbridge",
        "pubsub",
        SpanKind.CONSUMER,
        "otel-tracer.ingest process",
        {"aws.eventbridge.detail_type": "hit.recorded"},
    ),
    "scheduled_event": (
        "schedule",
        "timer",
        SpanKind.SERVER,
        "my-schedule timer",
        {"faas.time": "2019-03-01T01:23:45Z"},
    ),
}
# Fixtures whose event carries W3C context the invocation continues (one record, or the
# first traced record of a batch, with a link to each).
CONTINUES = {"apigw_rest_v1", "apigw_http_v2", "alb_multi_value", "sns", "sqs", "msk_kafka", "eventbridge_traced"}


def test_every_fixture_is_covered() -> None:
    assert {p.stem for p in EVENTS.glob("*.json")} == set(EXPECTED)


@pytest.fixture(scope="module")
def traced_echo(span_exporter):
    from functions.tracing import traced

    @traced
    def handler(event, context):
        for record in events.records(event):
            with process_record(record):
                pass
        return "done"

    return handler


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_each_trigger_gets_the_span_the_conventions_describe(fixture: str, traced_echo, spans) -> None:
    trigger, faas_trigger, kind, name, attributes = EXPECTED[fixture]
    event = canned(fixture)
    assert events.trigger_of(event) == trigger
    request_id = str(uuid.uuid4())
    assert traced_echo(event, LocalContext("fn", aws_request_id=request_id)) == "done"
    [span] = [s for s in spans() if s.attributes.get("faas.invocation_id") == request_id]
    assert (span.name, span.kind, span.attributes["faas.trigger"]) == (name, kind, faas_trigger)
    assert dict(span.attributes).items() >= attributes.items()
    if fixture in CONTINUES:
        assert f"{span.context.trace_id:032x}" == W3C_TRACE
        assert f"{span.parent.span_id:016x}" == W3C_SPAN
    else:
        assert span.parent is None or fixture == "dynamodb_stream"


def test_a_dynamodb_stream_batch_joins_its_first_writer_and_links_every_writer(traced_echo, spans) -> None:
    # GIVEN two stream records whose items were written in two traces (the `traceparent` attribute)
    event = canned("dynamodb_stream")
    request_id = str(uuid.uuid4())
    traced_echo(event, LocalContext("stream", aws_request_id=request_id))
    finished = spans()
    [invocation] = [s for s in finished if s.attributes.get("faas.invocation_id") == request_id]
    # THEN the invocation continues the first writer's trace and links both writers
    assert f"{invocation.context.trace_id:032x}" == W3C_TRACE
    assert {f"{link.context.trace_id:032x}" for link in invocation.links} == {
        W3C_TRACE,
        "6b0329265bf6e192d56ebd46172c790f",
    }
    # AND each record gets a span in its own writer's trace
    records = [s for s in finished if s.name == "hits process" and s is not invocation]
    assert {f"{s.context.trace_id:032x}" for s in records} == {W3C_TRACE, "6b0329265bf6e192d56ebd46172c790f"}


def test_a_trigger_that_cannot_carry_context_starts_a_root_and_says_why_in_its_kind(traced_echo, spans) -> None:
    # Kinesis data is the producer's opaque payload and S3 notifications carry no attributes: in
    # Jaeger mode these invocations are roots (in X-Ray mode Lambda's own header links S3 ones).
    for fixture in ("kinesis", "s3_put", "scheduled_event"):
        request_id = str(uuid.uuid4())
        traced_echo(canned(fixture), LocalContext("fn", aws_request_id=request_id))
        [span] = [s for s in spans() if s.attributes.get("faas.invocation_id") == request_id]
        assert span.parent is None and not span.links, fixture


# --- EventBridge: the producer carries W3C context in the event ------------------------------------


def test_put_events_carries_context_that_the_target_continues(local_aws, traced_echo, spans) -> None:
    # GIVEN a bus whose rule delivers to a queue (what a Lambda target receives is the same event)
    import boto3
    from opentelemetry import trace

    from tracectl.emulation.local_aws import boto_credentials

    def client(service: str):
        return boto3.client(service, endpoint_url=local_aws.endpoint, region_name="us-east-1", **boto_credentials())

    bus = "trace-bus"
    client("events").create_event_bus(Name=bus)
    queue_url = client("sqs").create_queue(QueueName="audit-tap")["QueueUrl"]
    queue_arn = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    client("events").put_rule(
        Name="hits", EventBusName=bus, EventPattern=json.dumps({"source": ["otel-tracer.ingest"]})
    )
    client("events").put_targets(Rule="hits", EventBusName=bus, Targets=[{"Id": "tap", "Arn": queue_arn}])
    # WHEN a traced producer puts an event with a Detail of its own (botocore instrumented)
    caller_detail = {"path": "/orders/9", "note": "mine"}
    with trace.get_tracer("test").start_as_current_span("producer") as producer:
        client("events").put_events(
            Entries=[
                {
                    "Source": "otel-tracer.ingest",
                    "DetailType": "hit.recorded",
                    "Detail": json.dumps(caller_detail),
                    "EventBusName": bus,
                }
            ]
        )
    [message] = client("sqs").receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
    event = json.loads(message["Body"])
    # THEN the delivered event keeps every field of the caller's and carries the context
    assert {k: event["detail"][k] for k in caller_detail} == caller_detail
    assert set(event["detail"]) == {*caller_detail, "_trace"}
    # AND the target's invocation span continues the producer's trace under the PutEvents span
    request_id = str(uuid.uuid4())
    traced_echo(event, LocalContext("audit", aws_request_id=request_id))
    finished = spans()
    [invocation] = [s for s in finished if s.attributes.get("faas.invocation_id") == request_id]
    [put] = [s for s in finished if s.name == "EventBridge.PutEvents"]
    assert invocation.context.trace_id == producer.get_span_context().trace_id
    assert invocation.parent.span_id == put.context.span_id


def test_put_events_injection_respects_the_callers_field_and_the_size_limit(span_exporter) -> None:
    from opentelemetry import trace

    from functions.tracing._message_injection import MAX_EVENTBRIDGE_ENTRY_BYTES, inject_trace_context

    own = json.dumps({"_trace": {"traceparent": "mine"}})
    big = json.dumps({"blob": "x" * (MAX_EVENTBRIDGE_ENTRY_BYTES - 40)})
    entries = [
        {"Source": "s", "DetailType": "d", "Detail": own},
        {"Source": "s", "DetailType": "d", "Detail": big},
        {"Source": "s", "DetailType": "d", "Detail": "[1, 2]"},
        {"Source": "s", "DetailType": "d", "Detail": "not json"},
        "junk",
    ]
    with trace.get_tracer("test").start_as_current_span("send"):
        inject_trace_context(None, "events", "PutEvents", {"Entries": entries})
    assert entries[0]["Detail"] == own  # the caller's own _trace wins
    assert entries[1]["Detail"] == big  # would pass 256 KB: sent as it was
    assert entries[2]["Detail"] == "[1, 2]" and entries[3]["Detail"] == "not json"


def test_item_trace_context_is_the_current_span_or_nothing(span_exporter) -> None:
    from opentelemetry import trace

    from functions.tracing import item_trace_context

    assert item_trace_context() == {}  # no current trace: nothing to store
    with trace.get_tracer("test").start_as_current_span("writer") as writer:
        stored = item_trace_context()
    context = writer.get_span_context()
    assert stored == {"traceparent": {"S": f"00-{context.trace_id:032x}-{context.span_id:016x}-01"}}
