"""SNS `ingest` → publish the message again to the `fanout` topic."""

from __future__ import annotations

import os
from typing import Any

import boto3

from functions import messages
from functions.tracing import LambdaContext, get_logger, traced

log = get_logger(__name__)
sns = boto3.client("sns")


@traced
def handler(event: Any, context: LambdaContext) -> dict[str, int]:
    published = 0
    for path in messages.sns_paths(event):
        sns.publish(TopicArn=os.environ["TOPIC_ARN"], Message=messages.encode(path))
        published += 1
    log.info("published", extra={"fields": {"count": published}})
    return {"published": published}
