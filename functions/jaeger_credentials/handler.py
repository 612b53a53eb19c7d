"""Custom resource (Jaeger stack): completes the OTLP ingest secret with the header the collector sends.

Secrets Manager generates `{"username": "otlp", "password": "…"}`; Jaeger's `basicauth` checks them.
The ADOT collector layer can only send a whole header from an environment variable, and
CloudFormation cannot base64 a value it resolves from a secret, so this function adds
`"authorization": "Basic <base64 username:password>"` to the same secret. The app's functions read
that key through a dynamic reference resolved at deploy time: no credential is in any template.
Nothing secret is logged, returned to CloudFormation or put in a span.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import boto3
import urllib3
from botocore.config import Config

from functions.custom_resource import answer
from functions.tracing import LambdaContext, add_metadata, traced

secrets = boto3.client("secretsmanager", config=Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 3}))


def complete_secret(properties: Mapping[str, Any]) -> None:
    """Add (or correct) the `authorization` key of the secret `properties["SecretId"]`."""
    secret_id = str(properties["SecretId"])
    value = json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"])
    # The `Authorization` value HTTP Basic authentication sends (RFC 7617): `Basic base64(user:password)`.
    header = urllib3.util.make_headers(basic_auth=f"{value['username']}:{value['password']}")["authorization"]
    changed = value.get("authorization") != header
    add_metadata("secret_changed", changed)
    if changed:
        secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps({**value, "authorization": header}))


@traced
def handler(event: Any, context: LambdaContext) -> str:
    # Delete: the secret goes with the stack; nothing to undo here.
    return answer(event, context, apply=complete_secret)
