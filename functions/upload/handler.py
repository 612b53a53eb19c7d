"""S3 `uploads` → record each new object in DynamoDB (the tecRacer "xraystarter" app).

An S3 notification carries no trace context of its own (in Jaeger mode AWS propagates nothing),
so the uploader puts it in the object's user metadata (`traceparent`), and the span for each
object is started from there once the handler has read it: the upload, this function's span and
its DynamoDB write are one trace. The invocation span itself is a root, linked from that span.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote_plus

import boto3

from functions.tracing import LambdaContext, annotate, get_logger, item_trace_context, process_record, records, traced

log = get_logger(__name__)
s3 = boto3.client("s3")
dynamodb = boto3.client("dynamodb")


@traced
def handler(event: Any, context: LambdaContext) -> dict[str, int]:
    recorded = 0
    for record in records(event):
        bucket, key = _bucket_and_key(record)
        if bucket is None or key is None:
            continue
        head = s3.head_object(Bucket=bucket, Key=key)
        with process_record(record, carrier=head.get("Metadata") or {}):
            annotate("request_path", f"/uploads/{key}")
            trace = item_trace_context()
            dynamodb.update_item(
                TableName=os.environ["TABLE_NAME"],
                Key={"path": {"S": f"/uploads/{key}"}},
                UpdateExpression="ADD hits :one SET size_bytes = :size" + (", traceparent = :trace" if trace else ""),
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":size": {"N": str(head.get("ContentLength", 0))},
                    **({":trace": trace["traceparent"]} if trace else {}),
                },
            )
            log.info("recorded upload", extra={"fields": {"bucket": bucket, "key": key}})
            recorded += 1
    return {"recorded": recorded}


def _bucket_and_key(record: dict) -> tuple[str | None, str | None]:
    s3_part = record.get("s3")
    if not isinstance(s3_part, dict):
        return None, None
    bucket, obj = s3_part.get("bucket"), s3_part.get("object")
    name = bucket.get("name") if isinstance(bucket, dict) else None
    key = obj.get("key") if isinstance(obj, dict) else None
    # S3 notifications URL-encode object keys (spaces as '+')
    return (name, unquote_plus(key)) if isinstance(name, str) and isinstance(key, str) else (None, None)
