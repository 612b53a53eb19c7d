"""Custom resource (Jaeger stack): the index policy that deletes Jaeger's indices after N days.

Jaeger writes daily indices (`jaeger-span-YYYY-MM-DD`, `jaeger-service-…`, …) to the OpenSearch
domain and never deletes them; Jaeger's index cleaner cannot sign requests for an IAM-only domain.
An Index State Management policy can: `ism_template` attaches it to every new index, and on
Update the indices it already manages move to the new version. The domain is reachable only
inside the VPC, so this function runs there; requests are signed with its role (SigV4, `es`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import boto3
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from functions.custom_resource import answer
from functions.tracing import LambdaContext, add_metadata, traced

POLICY_ID = "jaeger-retention"
INDEX_PATTERNS = ("jaeger-span-*", "jaeger-service-*", "jaeger-dependencies-*", "jaeger-sampling-*")
_HTTP = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5.0, read=20.0), retries=urllib3.Retry(3, backoff_factor=1))


def retention_policy(days: int) -> dict[str, Any]:
    """An ISM policy: indices matching INDEX_PATTERNS are deleted `days` days after creation."""
    return {
        "policy": {
            "description": f"Delete Jaeger's indices {days} days after they are created",
            "default_state": "hot",
            "states": [
                {
                    "name": "hot",
                    "actions": [],
                    "transitions": [{"state_name": "delete", "conditions": {"min_index_age": f"{days}d"}}],
                },
                {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
            ],
            "ism_template": [{"index_patterns": list(INDEX_PATTERNS), "priority": 100}],
        }
    }


class Domain:
    """Signed JSON requests to an OpenSearch domain's REST API (`endpoint` is `https://host`)."""

    def __init__(self, endpoint: str, region: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.region = region
        self.credentials = boto3.Session().get_credentials()

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        signed = AWSRequest(
            method=method, url=self.endpoint + path, data=data, headers={"Content-Type": "application/json"}
        )
        SigV4Auth(self.credentials, "es", self.region).add_auth(signed)
        response = _HTTP.request(method, signed.url, body=data, headers=dict(signed.headers))
        document = json.loads(response.data or b"{}")
        if response.status >= 300 and response.status != 404:
            raise RuntimeError(f"{method} {path} answered {response.status}: {json.dumps(document)[:300]}")
        return response.status, document


def apply_policy(properties: Mapping[str, Any]) -> None:
    days = int(properties["RetentionDays"])
    add_metadata("retention_days", days)
    domain = Domain(str(properties["DomainEndpoint"]), os.environ["AWS_REGION"])
    path = f"/_plugins/_ism/policies/{POLICY_ID}"
    status, current = domain.request("GET", path)
    if status == 404:
        domain.request("PUT", path, retention_policy(days))
        return
    # Updating needs the version read above; then the indices already managed follow the new one.
    version = f"?if_seq_no={current['_seq_no']}&if_primary_term={current['_primary_term']}"
    domain.request("PUT", path + version, retention_policy(days))
    domain.request("POST", f"/_plugins/_ism/change_policy/{','.join(INDEX_PATTERNS)}", {"policy_id": POLICY_ID})


@traced
def handler(event: Any, context: LambdaContext) -> str:
    # Delete: the domain outlives the stack (its data is kept), and so does the policy that trims it.
    return answer(event, context, apply=apply_policy)
