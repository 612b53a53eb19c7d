"""CloudFormation's custom resource protocol, for the deploy-time functions of the Jaeger stack.

CloudFormation invokes the function with an event (`RequestType` Create, Update or Delete, the
resource's properties, a presigned `ResponseURL`) and waits, up to an hour, for a JSON document
PUT to that URL. `answer` does the work and always answers, SUCCESS or FAILED with the error's
message, then re-raises a failure so that the invocation's span ends in error too (the stack sets
no retries on these functions: CloudFormation has its answer, a retry would only answer again).

Why not crhelper: it answers over HTTPS only (so no local test can receive the answer), its
default DEBUG level logs the whole event, presigned URL included, and it sleeps two minutes on
every Delete. The PUT below goes through urllib3, so the instrumentation traces it; the URL's
signature is redacted in spans and logs like any other (functions/tracing/_redaction.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import urllib3

from functions.tracing import LambdaContext, add_metadata, get_logger

log = get_logger(__name__)
# Bounded: a hung answer would keep CloudFormation waiting for an hour.
_HTTP = urllib3.PoolManager(
    timeout=urllib3.Timeout(connect=5.0, read=10.0), retries=urllib3.Retry(3, backoff_factor=0.5)
)
REASON_LIMIT = 1000  # CloudFormation shows the reason in the stack's events; keep it one readable line

Work = Callable[[Mapping[str, Any]], Mapping[str, str] | None]


def answer(event: Mapping[str, Any], context: LambdaContext, *, apply: Work, remove: Work | None = None) -> str:
    """Run `apply` (Create, Update) or `remove` (Delete) on the resource's properties, then answer.

    Returns the status sent. `apply`/`remove` may return a few non-secret strings as the resource's
    attributes (`Fn::GetAtt`); never a secret: CloudFormation shows them in its console.
    """
    request_type = str(event.get("RequestType", ""))
    add_metadata("cloudformation_request", request_type)
    physical_id = str(event.get("PhysicalResourceId") or event.get("LogicalResourceId") or context.aws_request_id)
    work = remove if request_type == "Delete" else apply
    try:
        data = work(event.get("ResourceProperties") or {}) if work is not None else None
    except Exception as error:
        _respond(event, "FAILED", physical_id, reason=f"{type(error).__name__}: {error}"[:REASON_LIMIT])
        raise
    _respond(event, "SUCCESS", physical_id, data=data)
    return "SUCCESS"


def _respond(
    event: Mapping[str, Any], status: str, physical_id: str, *, reason: str = "", data: Mapping[str, str] | None = None
) -> None:
    body = {
        "Status": status,
        "Reason": reason or f"See the function's log in CloudWatch Logs ({status})",
        "PhysicalResourceId": physical_id,
        "StackId": event.get("StackId"),
        "RequestId": event.get("RequestId"),
        "LogicalResourceId": event.get("LogicalResourceId"),
        "Data": dict(data or {}),
    }
    payload = json.dumps(body).encode()
    # An empty Content-Type: the presigned URL was signed without one.
    response = _HTTP.request("PUT", str(event["ResponseURL"]), body=payload, headers={"Content-Type": ""})
    if response.status >= 300:
        raise RuntimeError(f"CloudFormation's response URL answered {response.status}")
    log.info("answered CloudFormation", extra={"fields": {"status": status}})
