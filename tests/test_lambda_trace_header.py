"""The trace header Lambda would give each invocation, and what AWS services hand on to get there.

The relay is moto's front door in every local run (tracectl/emulation/header_relay.py); these tests call
the emulator over HTTP with boto3, each call carrying an X-Ray header as botocore's instrumentation
would send it.
"""

from __future__ import annotations

import json
import random
import time

import boto3
import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation

from tracectl.emulation.lambda_trace_header import new_trace_header, runtime_header, upstream_header
from tracectl.emulation.local_aws import boto_credentials

CALLER = "Root=1-6b0f2dd3-269e0d37f2a74de452e6b438;Parent=3122a6c0295dc839;Sampled=1"


def client(local_aws, service: str, header: str | None = CALLER):
    """A boto3 client whose every call carries `header` as X-Amzn-Trace-Id."""
    made = boto3.client(service, endpoint_url=local_aws.endpoint, region_name="us-east-1", **boto_credentials())

    def add(request, **_: object) -> None:
        if header:
            request.headers["X-Amzn-Trace-Id"] = header

    made.meta.events.register("before-sign.*.*", add)
    return made


def queue(local_aws, name: str) -> str:
    return client(local_aws, "sqs", None).create_queue(QueueName=name)["QueueUrl"]


def received_trace_headers(local_aws, url: str) -> list[str | None]:
    messages = client(local_aws, "sqs", None).receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    )["Messages"]
    return [m.get("Attributes", {}).get("AWSTraceHeader") for m in messages]


def test_sqs_keeps_the_senders_header_as_awstraceheader(local_aws) -> None:
    url = queue(local_aws, "relay-send")
    client(local_aws, "sqs").send_message(QueueUrl=url, MessageBody="a")
    client(local_aws, "sqs").send_message_batch(
        QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "b"}, {"Id": "2", "MessageBody": "c"}]
    )
    # moto drops a batch entry's system attributes (AWS keeps them): batch messages arrive without
    # it locally. When moto learns them this fails, and docs/lambda-locally.md loses a difference.
    assert received_trace_headers(local_aws, url) == [CALLER, None, None]


def test_a_messages_own_awstraceheader_wins_over_the_http_header(local_aws) -> None:
    own = "Root=1-6b0f2dd3-000000000000000000000001;Parent=0000000000000001;Sampled=1"
    url = queue(local_aws, "relay-own")
    client(local_aws, "sqs").send_message(
        QueueUrl=url,
        MessageBody="a",
        MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": own}},
    )
    assert received_trace_headers(local_aws, url) == [own]


@pytest.mark.parametrize("header", [None, "Root=not-an-xray-id;Parent=1;Sampled=1"])
def test_no_header_or_one_xray_rejects_is_not_handed_on(local_aws, header) -> None:
    url = queue(local_aws, f"relay-none-{header is None}")
    with suppress_instrumentation():  # botocore's instrumentation would add a header of its own
        client(local_aws, "sqs", header).send_message(QueueUrl=url, MessageBody="a")
    assert received_trace_headers(local_aws, url) == [None]


def test_sns_eventbridge_and_s3_hand_the_callers_header_to_the_function(local_aws) -> None:
    sns = client(local_aws, "sns")
    topic = sns.create_topic(Name="relay-topic")["TopicArn"]
    message_id = sns.publish(TopicArn=topic, Message="m")["MessageId"]
    events = client(local_aws, "events")
    entry = {"Source": "relay", "DetailType": "t", "Detail": "{}", "EventBusName": "default"}
    own = "Root=1-6b0f2dd3-000000000000000000000002;Parent=0000000000000002;Sampled=0"
    ids = [e["EventId"] for e in events.put_events(Entries=[entry, {**entry, "TraceHeader": own}])["Entries"]]
    s3 = client(local_aws, "s3")
    s3.create_bucket(Bucket="relay-bucket")
    etag = s3.put_object(Bucket="relay-bucket", Key="dir/a b.txt", Body=b"x")["ETag"]
    relay = local_aws.relay
    assert relay.sns(message_id) == CALLER
    assert [relay.eventbridge(i) for i in ids] == [CALLER, own]  # an entry's TraceHeader wins
    assert relay.s3("relay-bucket", "dir/a b.txt", etag) == CALLER
    assert relay.sns("another-message") is None


def test_the_invoking_services_header_is_found_from_the_event_lambda_receives(local_aws) -> None:
    sns = client(local_aws, "sns")
    message_id = sns.publish(TopicArn=sns.create_topic(Name="relay-event")["TopicArn"], Message="m")["MessageId"]
    relay = local_aws.relay
    sns_event = {"Records": [{"EventSource": "aws:sns", "Sns": {"MessageId": message_id}}]}
    api_event = {"headers": {"X-Amzn-Trace-Id": CALLER, "Host": "h"}}
    assert upstream_header("sns", sns_event, relay) == CALLER
    assert upstream_header("api", api_event, relay) == CALLER
    assert upstream_header("api", {"headers": {"x-amzn-trace-id": "Root=bogus"}}, relay) is None
    sqs_event = {"Records": [{"eventSource": "aws:sqs", "attributes": {"AWSTraceHeader": CALLER}}]}
    assert upstream_header("sqs", sqs_event, relay) is None  # Lambda starts SQS invocations' traces
    assert upstream_header("dynamodb", {"Records": [{}]}, relay) is None


def fields(header: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in header.split(";"))


def test_active_tracing_continues_the_callers_trace_and_decision() -> None:
    rng = random.Random(1)
    assert runtime_header(CALLER, active=True, rng=rng) == CALLER
    unsampled = CALLER.replace("Sampled=1", "Sampled=0")
    assert runtime_header(unsampled, active=True, rng=rng) == unsampled  # the caller decided: not sampled
    undecided = fields(runtime_header(CALLER.replace(";Sampled=1", ""), active=True, rng=rng))
    assert undecided == {**fields(CALLER), "Sampled": "1"}  # Lambda decides: sampled (every trace, locally)
    no_parent = fields(runtime_header("Root=1-6b0f2dd3-269e0d37f2a74de452e6b438", active=True, rng=rng))
    assert no_parent["Root"] == "1-6b0f2dd3-269e0d37f2a74de452e6b438" and len(no_parent["Parent"]) == 16


def test_without_a_caller_lambda_starts_a_trace_sampled_only_with_active_tracing() -> None:
    rng = random.Random(2)
    active, passthrough = (fields(runtime_header(None, active=a, rng=rng)) for a in (True, False))
    assert (active["Sampled"], passthrough["Sampled"]) == ("1", "0")
    for started in (active, passthrough):
        version, epoch, rest = started["Root"].split("-")
        assert version == "1" and abs(int(epoch, 16) - time.time()) < 60 and len(rest) == 24
        assert len(started["Parent"]) == 16
    assert active["Root"] != passthrough["Root"]


def test_passthrough_hands_the_callers_header_on_as_it_came() -> None:
    assert runtime_header(CALLER, active=False, rng=random.Random(3)) == CALLER
    header = new_trace_header(random.Random(4), sampled=False)
    assert fields(header)["Sampled"] == "0"
    assert json.dumps(header)  # a plain string, ready for the Runtime API's header
