"""The app's wiring as plain data: which functions exist, what triggers each, what each writes to.

One definition serves both the CDK stack (infra/stack.py) and tracectl's local runner, so the
app deployed and the app run locally cannot drift apart (tests/test_topology.py checks the
synthesized template against this). No aws_cdk import here: tracectl imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

# Environment variables the handlers read for their targets (set by the stack and the runner).
TOPIC_ARN_ENV = "TOPIC_ARN"
QUEUE_URL_ENV = "QUEUE_URL"
TABLE_NAME_ENV = "TABLE_NAME"
EXTERNAL_URL_ENV = "EXTERNAL_URL"
EVENT_BUS_ENV = "EVENT_BUS_NAME"
FAULT_RATE_ENV = "FAULT_RATE"


@dataclass(frozen=True, kw_only=True)
class Trigger:
    kind: Literal["api", "sns", "sqs", "eventbridge", "dynamodb", "s3"]
    source: str | None = None
    """Topic, queue, event bus, table (its stream) or bucket name; None for the API."""
    batch_size: int = 1


@dataclass(frozen=True, kw_only=True)
class Function:
    name: str
    trigger: Trigger
    publishes_to: str | None = None
    sends_to: str | None = None
    puts_events_to: str | None = None
    """An event bus the function puts domain events on (source `EVENT_SOURCE`)."""
    writes_table: str | None = None
    reads_bucket: str | None = None
    calls_external: bool = False

    @property
    def handler(self) -> str:
        """The Lambda handler string, relative to the bundle root (the repository root locally)."""
        return f"functions.{self.name}.handler.handler"

    @property
    def is_async(self) -> bool:
        """Invoked asynchronously (by SNS, an EventBridge rule or S3): failures go to the
        async-failure queue after retries."""
        return self.trigger.kind in ("sns", "eventbridge", "s3")


@dataclass(frozen=True, kw_only=True)
class Queue:
    name: str
    dlq: str
    max_receive_count: int
    visibility_timeout_seconds: int


TABLE = "hits"
TABLE_PARTITION_KEY = "path"
TOPICS = ("ingest", "fanout")
UPLOADS_BUCKET = "uploads"
"""Locally the bucket's name; deployed, CloudFormation names it (the stack's `UploadsBucket` output)."""
EVENT_BUS = "app-events"
EVENT_SOURCE = "otel-tracer.ingest"
"""Every event `ingest` puts on the bus has this source; the audit rule matches on it."""
EVENT_DETAIL_TYPE = "request.received"
QUEUE = Queue(name="work", dlq="work-dlq", max_receive_count=3, visibility_timeout_seconds=60)
ASYNC_FAILURE_QUEUE = "async-failures"
ASYNC_RETRY_ATTEMPTS = 2
FUNCTION_TIMEOUT_SECONDS = 10
FUNCTION_MEMORY_MB = 512
"""Every function's memory, and so its CPU share (1,769 MB = one vCPU), deployed and local alike."""

FUNCTIONS: tuple[Function, ...] = (
    Function(name="ingest", trigger=Trigger(kind="api"), publishes_to="ingest", puts_events_to=EVENT_BUS),
    Function(name="dynamo", trigger=Trigger(kind="sns", source="ingest"), writes_table=TABLE),
    Function(name="http", trigger=Trigger(kind="sns", source="ingest"), calls_external=True),
    Function(name="sqs", trigger=Trigger(kind="sns", source="ingest"), sends_to=QUEUE.name),
    Function(name="sqs_subscriber", trigger=Trigger(kind="sqs", source=QUEUE.name, batch_size=10)),
    Function(name="sns", trigger=Trigger(kind="sns", source="ingest"), publishes_to="fanout"),
    Function(name="sns_subscriber", trigger=Trigger(kind="sns", source="fanout")),
    Function(name="audit", trigger=Trigger(kind="eventbridge", source=EVENT_BUS)),
    Function(name="stream", trigger=Trigger(kind="dynamodb", source=TABLE, batch_size=10)),
    Function(
        name="upload",
        trigger=Trigger(kind="s3", source=UPLOADS_BUCKET),
        reads_bucket=UPLOADS_BUCKET,
        writes_table=TABLE,
    ),
)


@dataclass(frozen=True, kw_only=True)
class Targets:
    """Where the app's resources are: CDK tokens in the stack, the emulator's values locally."""

    topic_arns: Mapping[str, str]
    queue_urls: Mapping[str, str]
    event_bus: str
    table: str
    external_url: str | None
    """None: the caller sets EXTERNAL_URL and FAULT_RATE itself (in-process tests)."""
    fault_rate: float


def function_environment(spec: Function, targets: Targets) -> dict[str, str]:
    """The env vars `spec`'s handler reads for its targets (TOPIC_ARN, QUEUE_URL, TABLE_NAME...)."""
    env: dict[str, str] = {}
    if spec.publishes_to:
        env[TOPIC_ARN_ENV] = targets.topic_arns[spec.publishes_to]
    if spec.sends_to:
        env[QUEUE_URL_ENV] = targets.queue_urls[spec.sends_to]
    if spec.puts_events_to:
        env[EVENT_BUS_ENV] = targets.event_bus
    if spec.writes_table:
        env[TABLE_NAME_ENV] = targets.table
    if spec.calls_external and targets.external_url is not None:
        env[EXTERNAL_URL_ENV] = targets.external_url
        env[FAULT_RATE_ENV] = repr(targets.fault_rate)
    return env


def function(name: str) -> Function:
    """The function called `name`; KeyError if there is none."""
    for candidate in FUNCTIONS:
        if candidate.name == name:
            return candidate
    raise KeyError(name)
