"""Each handler's spans, and propagation through real SNS and SQS message attributes (moto server over HTTP).

GIVEN the app's resources in moto, WHEN a handler runs on an event built from what moto
delivered, THEN its spans say where it came from and continue the sender's trace.
"""

from __future__ import annotations

import json

import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind, StatusCode

from tests.events import W3C_PARENT, LocalContext, api_request, sns_event_for
from tests.tracing_helpers import assert_recent_xray_trace_id, in_trace, one, parent_id


def call_api(handler, path="/orders/42", headers=None):
    return handler("ingest")(api_request(path, headers), LocalContext("ingest"))


def test_ingest_is_a_server_span_that_publishes_and_returns_its_trace_id(handler, spans) -> None:
    response = call_api(handler)
    body = json.loads(response["body"])
    [server] = [s for s in spans() if s.kind == SpanKind.SERVER]
    trace_id = server.context.trace_id
    assert server.name == "GET /{proxy+}"
    assert server.parent is None
    assert (
        dict(server.attributes).items()
        >= {
            "faas.trigger": "http",
            "http.request.method": "GET",
            "http.route": "/{proxy+}",
            "url.path": "/orders/42",
            "url.scheme": "https",
            "http.response.status_code": 200,
            "request_path": "/orders/42",
            "server.address": "local.execute-api.localhost",
        }.items()
    )
    assert server.attributes["aws.xray.annotations"] == ("request_path",)
    assert server.attributes["cloud.resource_id"].endswith(":function:ingest")
    assert response["headers"]["x-trace-id"] == body["trace_id"] == f"{trace_id:032x}"
    assert body["xray_trace_id"] == f"1-{body['trace_id'][:8]}-{body['trace_id'][8:]}"
    assert_recent_xray_trace_id(trace_id)
    publish = [s for s in in_trace(spans(), trace_id) if s.kind == SpanKind.PRODUCER]
    assert len(publish) == 1 and parent_id(publish[0]) == server.context.span_id
    assert publish[0].attributes["rpc.method"] == "Publish"


def test_ingest_continues_an_incoming_traceparent(handler, spans) -> None:
    call_api(handler, headers={"Traceparent": W3C_PARENT})
    [server] = [s for s in spans() if s.kind == SpanKind.SERVER]
    assert f"{server.context.trace_id:032x}" == W3C_PARENT.split("-")[1]
    assert f"{server.parent.span_id:016x}" == W3C_PARENT.split("-")[2]
    assert server.parent.is_remote


def test_ingest_continues_an_incoming_xray_header(handler, spans) -> None:
    call_api(
        handler,
        headers={"X-Amzn-Trace-Id": "Root=1-5f8a1b2c-0af7651916cd43dd8448eb21;Parent=53995c3f42cd8ad8;Sampled=1"},
    )
    [server] = [s for s in spans() if s.kind == SpanKind.SERVER]
    assert f"{server.context.trace_id:032x}" == "5f8a1b2c0af7651916cd43dd8448eb21"
    assert f"{server.parent.span_id:016x}" == "53995c3f42cd8ad8"


def test_sns_subscribers_continue_the_trace_through_real_sns_attributes(handler, local_aws, spans) -> None:
    # GIVEN a request through ingest, published to the real (moto) topic
    call_api(handler, path="/sns-hop")
    sent = spans()
    [server] = [s for s in sent if s.kind == SpanKind.SERVER]
    [publish] = [s for s in in_trace(sent, server.context.trace_id) if s.kind == SpanKind.PRODUCER]
    # WHEN the dynamo function gets the notification moto delivered
    [event] = local_aws.receive_sns_events("dynamo")
    assert "traceparent" in event["Records"][0]["Sns"]["MessageAttributes"]
    result = handler("dynamo")(event, LocalContext("dynamo"))
    # THEN its consumer span is a child of the publish, and DynamoDB is a child of it
    trace = in_trace(spans(), server.context.trace_id)
    consumer = one(trace, "ingest process")
    assert consumer.kind == SpanKind.CONSUMER
    assert parent_id(consumer) == publish.context.span_id
    assert consumer.attributes["faas.trigger"] == "pubsub"
    assert consumer.attributes["messaging.system"] == "aws.sns"
    assert consumer.attributes["messaging.message.id"] == event["Records"][0]["Sns"]["MessageId"]
    [update] = [s for s in trace if s.attributes.get("rpc.method") == "UpdateItem"]
    assert parent_id(update) == consumer.context.span_id and update.kind == SpanKind.CLIENT
    assert result == {"counted": 1}
    hits = local_aws.client("dynamodb").get_item(TableName="hits", Key={"path": {"S": "/sns-hop"}})["Item"]["hits"]["N"]
    assert consumer.attributes["hit_count"] == int(hits) == 1
    assert set(consumer.attributes["aws.xray.annotations"]) == {"request_path", "hit_count"}


def test_sns_function_fans_out_to_the_subscriber_in_the_same_trace(handler, local_aws, spans) -> None:
    call_api(handler, path="/fanout")
    trace_id = next(s for s in spans() if s.kind == SpanKind.SERVER).context.trace_id
    handler("sns")(local_aws.receive_sns_events("sns")[0], LocalContext("sns"))
    [fanout_event] = local_aws.receive_sns_events("sns_subscriber")
    assert handler("sns_subscriber")(fanout_event, LocalContext("sns_subscriber")) == {"received": 1}
    trace = in_trace(spans(), trace_id)
    fanout_publish = next(s for s in trace if s.kind == SpanKind.PRODUCER and "fanout" in s.name)
    assert parent_id(one(trace, "fanout process")) == fanout_publish.context.span_id


def test_sqs_send_injects_context_beside_the_users_attribute_and_the_consumer_continues(
    handler, local_aws, spans
) -> None:
    call_api(handler, path="/queue-hop")
    trace_id = next(s for s in spans() if s.kind == SpanKind.SERVER).context.trace_id
    handler("sqs")(local_aws.receive_sns_events("sqs")[0], LocalContext("sqs"))
    event = local_aws.receive_sqs_event("work")
    [record] = event["Records"]
    assert record["messageAttributes"]["origin"]["stringValue"] == "sqs-function"
    assert record["messageAttributes"]["traceparent"]["stringValue"].split("-")[1] == f"{trace_id:032x}"
    result = handler("sqs_subscriber")(event, LocalContext("sqs_subscriber"))
    assert result == {"batchItemFailures": []}
    trace = in_trace(spans(), trace_id)
    send = next(s for s in trace if s.attributes.get("rpc.method") == "SendMessage")
    consumer = next(s for s in trace if s.name == "work process" and s.attributes.get("faas.trigger") == "pubsub")
    assert parent_id(consumer) == send.context.span_id
    assert consumer.attributes["messaging.system"] == "aws_sqs"
    local_aws.delete_batch("work", [record["receiptHandle"]])


def test_an_sqs_batch_from_three_traces_links_all_three_and_keeps_each_record_in_its_trace(
    handler, local_aws, spans
) -> None:
    sqs = local_aws.client("sqs")
    url = local_aws.resources.queue_urls["work"]
    parents = [f"00-{i:032x}-{i:016x}-01" for i in (0x11, 0x22, 0x33)]
    with suppress_instrumentation():  # three producers of other services, one trace each
        for i, traceparent in enumerate(parents):
            sqs.send_message(
                QueueUrl=url,
                MessageBody=json.dumps({"path": f"/batch/{i}"}),
                MessageAttributes={"traceparent": {"DataType": "String", "StringValue": traceparent}},
            )
    event = local_aws.receive_sqs_event("work")
    assert len(event["Records"]) == 3
    spans()  # the harness's own SQS calls are not under test
    handler("sqs_subscriber")(event, LocalContext("sqs_subscriber"))
    finished = spans()
    [batch] = [s for s in finished if s.attributes.get("messaging.batch.message_count") == 3]
    linked = {f"{link.context.trace_id:032x}" for link in batch.links}
    assert linked == {p.split("-")[1] for p in parents}
    # the batch joins the first record's trace; every record's span sits under its own sender
    first_trace, first_parent = int(parents[0].split("-")[1], 16), int(parents[0].split("-")[2], 16)
    assert (batch.context.trace_id, batch.parent.span_id) == (first_trace, first_parent)
    for traceparent in parents:
        trace_id = int(traceparent.split("-")[1], 16)
        [record_span] = [s for s in in_trace(finished, trace_id) if s.attributes.get("messaging.message.id")]
        if trace_id == first_trace:
            assert record_span.parent.span_id == batch.context.span_id and not record_span.links
        else:
            assert f"{record_span.parent.span_id:016x}" == traceparent.split("-")[2]
            assert [link.context.span_id for link in record_span.links] == [batch.context.span_id]
    local_aws.delete_batch("work", [r["receiptHandle"] for r in event["Records"]])


def test_an_aws_trace_header_only_record_continues_its_xray_trace(handler, local_aws, spans) -> None:
    header = "Root=1-5f8a1b2c-aaaaaaaaaaaaaaaaaaaaaaaa;Parent=1234567890abcdef;Sampled=1"
    with suppress_instrumentation():  # a producer that only has X-Ray's header, no OTel
        local_aws.client("sqs").send_message(
            QueueUrl=local_aws.resources.queue_urls["work"],
            MessageBody=json.dumps({"path": "/xray-only"}),
            MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": header}},
        )
    event = local_aws.receive_sqs_event("work")
    assert event["Records"][0]["attributes"]["AWSTraceHeader"] == header
    spans()
    handler("sqs_subscriber")(event, LocalContext("sqs_subscriber"))
    [consumer] = [s for s in spans() if s.attributes.get("faas.trigger") == "pubsub"]
    assert f"{consumer.context.trace_id:032x}" == "5f8a1b2caaaaaaaaaaaaaaaaaaaaaaaa"
    assert f"{consumer.parent.span_id:016x}" == "1234567890abcdef"
    local_aws.delete_batch("work", [r["receiptHandle"] for r in event["Records"]])


def test_a_bad_record_is_reported_for_retry_and_marked_on_its_span(handler, local_aws, spans) -> None:
    sqs = local_aws.client("sqs")
    url = local_aws.resources.queue_urls["work"]
    with suppress_instrumentation():
        sqs.send_message(QueueUrl=url, MessageBody="not json")
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"path": "/fine"}))
    event = local_aws.receive_sqs_event("work")
    bad = next(r for r in event["Records"] if r["body"] == "not json")
    spans()
    result = handler("sqs_subscriber")(event, LocalContext("sqs_subscriber"))
    assert result == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}
    finished = spans()
    [failed_record] = [
        s
        for s in finished
        if s.kind == SpanKind.CONSUMER and s.attributes.get("messaging.message.id") == bad["messageId"]
    ]
    assert failed_record.status.status_code == StatusCode.ERROR
    [batch] = [s for s in finished if s.attributes.get("faas.trigger") == "pubsub"]
    assert batch.status.status_code == StatusCode.ERROR
    assert batch.attributes["faas.batch_item_failures"] == 1
    local_aws.delete_batch("work", [r["receiptHandle"] for r in event["Records"]])


def test_http_calls_out_with_a_client_span(handler, spans, monkeypatch, external_endpoint) -> None:
    monkeypatch.setenv("EXTERNAL_URL", external_endpoint)
    monkeypatch.setenv("FAULT_RATE", "0")
    assert handler("http")(sns_event_for("/out"), LocalContext("http")) == {"calls": 1}
    finished = spans()
    consumer = next(s for s in finished if s.attributes.get("faas.trigger") == "pubsub")
    [call] = [s for s in in_trace(finished, consumer.context.trace_id) if s.kind == SpanKind.CLIENT]
    assert parent_id(call) == consumer.context.span_id
    assert call.attributes["http.response.status_code"] == 200
    assert consumer.attributes["fault_injected"] is False


def test_http_deliberate_fault_is_recorded_and_reraised_unchanged(
    handler, spans, monkeypatch, external_endpoint
) -> None:
    monkeypatch.setenv("EXTERNAL_URL", external_endpoint)
    monkeypatch.setenv("FAULT_RATE", "1")
    module = __import__("functions.http.handler", fromlist=["DeliberateFault"])
    with pytest.raises(module.DeliberateFault, match="CERTIFICATE_VERIFY_FAILED"):
        handler("http")(sns_event_for("/boom"), LocalContext("http"))
    [consumer] = [s for s in spans() if s.attributes.get("faas.trigger") == "pubsub"]
    assert consumer.status.status_code == StatusCode.ERROR
    assert consumer.attributes["fault_injected"] is True
    [exception] = [e for e in consumer.events if e.name == "exception"]
    assert exception.attributes["exception.type"].endswith("DeliberateFault")
    assert f"{consumer.context.trace_id:032x}" == W3C_PARENT.split("-")[1]
