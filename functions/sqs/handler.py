"""SNS `ingest` → send the message on to the work queue (trace context rides in its attributes)."""

from __future__ import annotations

import os
from typing import Any

import boto3

from functions import messages
from functions.tracing import LambdaContext, get_logger, traced

log = get_logger(__name__)
sqs = boto3.client("sqs")


@traced
def handler(event: Any, context: LambdaContext) -> dict[str, int]:
    sent = 0
    for path in messages.sns_paths(event):
        sqs.send_message(
            QueueUrl=os.environ["QUEUE_URL"],
            MessageBody=messages.encode(path),
            # An attribute of the app's own: tracing adds its context beside it, never over it.
            MessageAttributes={"origin": {"DataType": "String", "StringValue": "sqs-function"}},
        )
        sent += 1
    log.info("sent", extra={"fields": {"count": sent}})
    return {"sent": sent}
