"""One way to build each event and context the tests hand a handler.

Events come in AWS's exact shapes: from tracectl.emulation.lambda_events (what the local run delivers, built
from what moto returned) or from the canned, documented shapes in tests/fixtures/events/.
`LocalContext` is Lambda's context object as a test passes it (the emulator tests get the runtime
client's real one).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

from tests.conftest import ROOT
from tracectl.emulation.lambda_events import ACCOUNT, REGION, api_gateway_event, sns_event, sqs_event

EVENTS = ROOT / "tests" / "fixtures" / "events"
W3C_PARENT = "00-5f8a1b2c0af7651916cd43dd8448eb21-b7ad6b7169203331-01"
"""The W3C context the canned events that carry one carry."""


@dataclass
class LocalContext:
    function_name: str
    memory_limit_in_mb: int = 512
    timeout_seconds: int = 10
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/[{self.function_version}]{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def canned(name: str) -> dict:
    """A documented event shape from tests/fixtures/events/NAME.json."""
    return json.loads((EVENTS / f"{name}.json").read_text())


def api_request(path: str = "/orders/42", headers: dict[str, str] | None = None) -> dict:
    return api_gateway_event("GET", path, headers=headers)


def sns_event_for(path: str, *, traceparent: str | None = W3C_PARENT, topic: str = "ingest") -> dict:
    """SNS → Lambda for one notification carrying the app's message for `path`."""
    notification = {
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic}",
        "Message": json.dumps({"path": path}),
        "Timestamp": "2026-11-22T00:00:00.000Z",
        "MessageAttributes": {"traceparent": {"Type": "String", "Value": traceparent}} if traceparent else {},
    }
    return sns_event(json.dumps(notification), f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic}:sub")


def sqs_event_for(path: str, *, attributes: dict[str, str] | None = None, queue: str = "work") -> dict:
    """SQS → Lambda for one message carrying the app's message for `path` (no trace context unless given)."""
    message = {
        "MessageId": "m",
        "ReceiptHandle": "r",
        "Body": json.dumps({"path": path}),
        "Attributes": attributes or {},
        "MessageAttributes": {},
    }
    return sqs_event([message], f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}")
