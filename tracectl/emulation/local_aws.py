"""The app's AWS resources in an embedded moto server (real AWS HTTP APIs on 127.0.0.1).

`LocalAws` starts moto's threaded server on a free loopback port and creates what
infra/topology.py declares, the same definition the CDK stack is built from. SNS → Lambda and
EventBridge → Lambda and S3 → Lambda are modelled with one tap queue per triggered function: SNS
delivers the notification JSON to it (what Lambda receives as `Records[].Sns`), an EventBridge
rule or an S3 notification the event itself (what Lambda receives as its event). The X-Ray header
each producer's call carried is handed on as AWS does (tracectl/emulation/header_relay.py, `relay`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
import urllib3
from werkzeug.serving import BaseWSGIServer

from infra import topology
from tracectl.emulation.header_relay import TraceHeaderRelay, serve_moto
from tracectl.emulation.lambda_events import sns_event, sqs_event
from tracectl.emulator_identity import ACCOUNT, FAKE_CREDENTIALS, REGION, boto_credentials


@dataclass
class Resources:
    topic_arns: dict[str, str] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)
    tap_queue_urls: dict[str, str] = field(default_factory=dict)
    """function name → URL of the queue its SNS subscription delivers to."""
    subscription_arns: dict[str, str] = field(default_factory=dict)
    table_name: str = topology.TABLE
    table_stream_arn: str = ""
    event_bus_name: str = topology.EVENT_BUS

    @staticmethod
    def queue_arn(name: str) -> str:
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


class LocalAws:
    """moto server + the app's resources. Use as a context manager; stops by itself on exit.

    moto's backends are global to the process, so entering resets them: one LocalAws at a time.
    """

    def __init__(self) -> None:
        self._server: BaseWSGIServer | None = None
        self.relay: TraceHeaderRelay | None = None
        self.endpoint = ""
        self.resources = Resources()
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._stream_iterators: dict[str, str] = {}
        """shard id → the next iterator of the table's stream (LATEST when the run began)."""

    def __enter__(self) -> LocalAws:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
        self._server, self.relay = serve_moto()
        self.endpoint = f"http://127.0.0.1:{self._server.server_port}"
        # moto keeps its state per process, not per server: start every run from nothing.
        urllib3.request("POST", f"{self.endpoint}/moto-api/reset", retries=False)
        self._create()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def environment(self) -> dict[str, str]:
        """Env vars that point boto3 (in this process or a worker) at the emulator."""
        return {
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
        }

    def client(self, service: str) -> Any:
        """One client per service, shared: clients are thread-safe, making them from one session is not."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = boto3.client(
                    service, endpoint_url=self.endpoint, region_name=REGION, **boto_credentials()
                )
            return self._clients[service]

    def function_environment(
        self, spec: topology.Function, *, external_url: str | None = None, fault_rate: float = 0.0
    ) -> dict[str, str]:
        """The target env vars the stack would set for `spec` (TOPIC_ARN, QUEUE_URL, TABLE_NAME...)."""
        targets = topology.Targets(
            topic_arns=self.resources.topic_arns,
            queue_urls=self.resources.queue_urls,
            event_bus=self.resources.event_bus_name,
            table=self.resources.table_name,
            external_url=external_url,
            fault_rate=fault_rate,
        )
        return topology.function_environment(spec, targets)

    def receive_sns_events(self, function_name: str, *, wait_seconds: int = 0) -> list[dict]:
        """SNS → Lambda events (one notification each) waiting for `function_name`; deleted once read."""
        sqs = self._sqs()
        url = self.resources.tap_queue_urls[function_name]
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds)
        events = []
        for message in received.get("Messages", []):
            events.append(sns_event(message["Body"], self.resources.subscription_arns[function_name]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return events

    def receive_eventbridge_events(self, function_name: str) -> list[dict]:
        """EventBridge → Lambda events (the events themselves) waiting for `function_name`; deleted once read."""
        return self._receive_tap_bodies(function_name)

    def receive_s3_events(self, function_name: str) -> list[dict]:
        """S3 → Lambda events (`{"Records": [...]}`, as S3 sends them) for `function_name`; deleted once read.

        S3's `s3:TestEvent`, sent when a notification is configured, never reaches a function.
        """
        return [body for body in self._receive_tap_bodies(function_name) if "Records" in body]

    def _receive_tap_bodies(self, function_name: str) -> list[dict]:
        sqs = self._sqs()
        url = self.resources.tap_queue_urls[function_name]
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        for message in received.get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(message["Body"]) for message in received.get("Messages", [])]

    def receive_stream_event(self, *, max_records: int) -> dict | None:
        """A DynamoDB Streams → Lambda batch of the table's new records, or None when there are none.

        Records are what the Streams API returns plus `eventSourceARN`, as Lambda delivers them.
        """
        streams = self.client("dynamodbstreams")
        found: list[dict] = []
        for shard, iterator in list(self._stream_iterators.items()):
            if len(found) >= max_records:
                break
            with self.relay.stream_read() if self.relay else contextlib.nullcontext():
                page = streams.get_records(ShardIterator=iterator, Limit=max_records - len(found))
            found += [{**r, "eventSourceARN": self.resources.table_stream_arn} for r in page["Records"]]
            self._stream_iterators[shard] = page.get("NextShardIterator") or iterator
        return {"Records": _json_safe(found)} if found else None

    def receive_sqs_event(self, queue: str, *, max_messages: int = 10, wait_seconds: int = 0) -> dict | None:
        """An SQS → Lambda batch from `queue`, or None if it is empty. Messages stay in flight
        until `delete_batch` (success) or their visibility timeout (failure → redrive)."""
        received = self._sqs().receive_message(
            QueueUrl=self.resources.queue_urls[queue],
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = received.get("Messages", [])
        return sqs_event(messages, self.resources.queue_arns[queue]) if messages else None

    def delete_batch(self, queue: str, receipt_handles: list[str]) -> None:
        if receipt_handles:
            self._sqs().delete_message_batch(
                QueueUrl=self.resources.queue_urls[queue],
                Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(receipt_handles)],
            )

    def drain(self) -> int:
        """Delete every visible message in every queue (PurgeQueue allows one call a minute). Returns the count."""
        sqs = self._sqs()
        drained = 0
        for url in [*self.resources.queue_urls.values(), *self.resources.tap_queue_urls.values()]:
            while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )
                drained += len(messages)
        return drained

    def _sqs(self) -> Any:
        return self.client("sqs")

    def _create(self) -> None:
        sns, sqs, dynamodb = self.client("sns"), self.client("sqs"), self.client("dynamodb")
        r = self.resources
        for topic in topology.TOPICS:
            r.topic_arns[topic] = sns.create_topic(Name=topic)["TopicArn"]
        queue = topology.QUEUE
        for name, attributes in (
            (queue.dlq, {}),
            (
                queue.name,
                {
                    "VisibilityTimeout": str(queue.visibility_timeout_seconds),
                    "RedrivePolicy": f'{{"deadLetterTargetArn": "{self.resources.queue_arn(queue.dlq)}", '
                    f'"maxReceiveCount": "{queue.max_receive_count}"}}',
                },
            ),
            (topology.ASYNC_FAILURE_QUEUE, {}),
        ):
            r.queue_urls[name] = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            r.queue_arns[name] = self.resources.queue_arn(name)
        events = self.client("events")
        events.create_event_bus(Name=topology.EVENT_BUS)
        for spec in topology.FUNCTIONS:
            if spec.trigger.kind == "s3":
                assert spec.trigger.source is not None
                tap = f"s3-to-{spec.name}"
                r.tap_queue_urls[spec.name] = sqs.create_queue(QueueName=tap)["QueueUrl"]
                s3 = self.client("s3")
                s3.create_bucket(Bucket=spec.trigger.source)
                s3.put_bucket_notification_configuration(
                    Bucket=spec.trigger.source,
                    NotificationConfiguration={
                        "QueueConfigurations": [{"QueueArn": r.queue_arn(tap), "Events": ["s3:ObjectCreated:*"]}]
                    },
                )
            if spec.trigger.kind == "eventbridge":
                tap = f"events-to-{spec.name}"
                r.tap_queue_urls[spec.name] = sqs.create_queue(QueueName=tap)["QueueUrl"]
                rule = f"{spec.name}-rule"
                pattern = json.dumps({"source": [topology.EVENT_SOURCE]})
                events.put_rule(Name=rule, EventBusName=topology.EVENT_BUS, EventPattern=pattern)
                events.put_targets(
                    Rule=rule, EventBusName=topology.EVENT_BUS, Targets=[{"Id": spec.name, "Arn": r.queue_arn(tap)}]
                )
            if spec.trigger.kind == "sns":
                assert spec.trigger.source is not None
                tap = f"sns-to-{spec.name}"
                r.tap_queue_urls[spec.name] = sqs.create_queue(QueueName=tap)["QueueUrl"]
                r.subscription_arns[spec.name] = sns.subscribe(
                    TopicArn=r.topic_arns[spec.trigger.source], Protocol="sqs", Endpoint=self.resources.queue_arn(tap)
                )["SubscriptionArn"]
        table = dynamodb.create_table(
            TableName=topology.TABLE,
            KeySchema=[{"AttributeName": topology.TABLE_PARTITION_KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": topology.TABLE_PARTITION_KEY, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        r.table_stream_arn = table["TableDescription"]["LatestStreamArn"]
        streams = self.client("dynamodbstreams")
        for shard in streams.describe_stream(StreamArn=r.table_stream_arn)["StreamDescription"]["Shards"]:
            self._stream_iterators[shard["ShardId"]] = streams.get_shard_iterator(
                StreamArn=r.table_stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
            )["ShardIterator"]


def _json_safe(value: Any) -> Any:
    """boto3 answers with datetimes (ApproximateCreationDateTime); Lambda's JSON event has epoch seconds."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value.timestamp() if hasattr(value, "timestamp") else value

