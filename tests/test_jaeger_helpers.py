"""The Jaeger stack's deploy-time functions, run for real: Secrets Manager on the emulator, an
OpenSearch stand-in that records the signed requests, CloudFormation's response URL on 127.0.0.1.

What a user relies on: the ingest secret gets the header the collector sends, the retention
policy reaches the domain signed, CloudFormation always hears back (FAILED included), and no
credential or presigned signature lands in a span or a log line.
"""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from opentelemetry.trace import StatusCode

from tests.conftest import Recorded
from tests.events import LocalContext

SIGNATURE = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def cloudformation_event(request_type: str, properties: dict, response_url: str, **extra: str) -> dict:
    """The event CloudFormation sends a Lambda-backed custom resource (its documented fields)."""
    return {
        "RequestType": request_type,
        "ResponseURL": f"{response_url}/cfn-response?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature={SIGNATURE}",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/OtelTracerJaeger/guid",
        "RequestId": str(uuid.uuid4()),
        "ResourceType": "Custom::Test",
        "LogicalResourceId": "Resource",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f", **properties},
        **extra,
    }


def answers(cfn) -> list[dict]:
    return [json.loads(r.body) for r in cfn.requests if r.method == "PUT"]


def everything_recorded(spans, capsys) -> str:
    exported = [
        {"name": s.name, "attributes": dict(s.attributes or {}), "events": [dict(e.attributes or {}) for e in s.events]}
        for s in spans()
    ]
    return json.dumps(exported, default=str) + capsys.readouterr().out


# --- the ingest credentials --------------------------------------------------------------------


@pytest.fixture
def ingest_secret(local_aws):
    secrets = local_aws.client("secretsmanager")
    value = {"username": "otlp", "password": f"pw-{uuid.uuid4().hex}"}
    arn = secrets.create_secret(Name=f"ingest-{uuid.uuid4().hex[:8]}", SecretString=json.dumps(value))["ARN"]
    return secrets, arn, value


def test_the_secret_gets_the_basic_header_and_cloudformation_its_answer(ingest_secret, recorder, spans, capsys) -> None:
    from functions.jaeger_credentials.handler import handler

    secrets, arn, value = ingest_secret
    cfn = recorder()
    # WHEN CloudFormation creates the resource
    status = handler(cloudformation_event("Create", {"SecretId": arn}, cfn.url), LocalContext("jaeger_credentials"))
    # THEN the secret holds the header HTTP Basic auth sends (RFC 7617), beside the two values
    stored = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
    header = "Basic " + base64.b64encode(f"{value['username']}:{value['password']}".encode()).decode()
    assert stored == {**value, "authorization": header}
    assert status == "SUCCESS"
    [answer] = answers(cfn)
    assert (answer["Status"], answer["LogicalResourceId"], answer["Data"]) == ("SUCCESS", "Resource", {})
    # AND no credential, header or presigned signature is in a span, a log line or the answer
    recorded = everything_recorded(spans, capsys) + json.dumps(answer)
    for secret in (value["password"], header.split()[1], SIGNATURE):
        assert secret not in recorded
    assert "cfn-response" in recorded  # the answer's PUT is traced, its URL redacted


def test_an_update_leaves_a_complete_secret_alone(ingest_secret, recorder) -> None:
    from functions.jaeger_credentials.handler import handler

    secrets, arn, _ = ingest_secret
    cfn = recorder()
    handler(cloudformation_event("Create", {"SecretId": arn}, cfn.url), LocalContext("jaeger_credentials"))
    versions = len(secrets.list_secret_version_ids(SecretId=arn)["Versions"])
    event = cloudformation_event("Update", {"SecretId": arn}, cfn.url, PhysicalResourceId="Resource")
    handler(event, LocalContext("jaeger_credentials"))
    assert len(secrets.list_secret_version_ids(SecretId=arn)["Versions"]) == versions
    assert [a["Status"] for a in answers(cfn)] == ["SUCCESS", "SUCCESS"]


def test_a_failure_still_answers_cloudformation_and_ends_the_span_in_error(local_aws, recorder, spans) -> None:
    from functions.jaeger_credentials.handler import handler

    cfn = recorder()
    event = cloudformation_event("Create", {"SecretId": "no-such-secret"}, cfn.url)
    with pytest.raises(Exception, match="ResourceNotFoundException"):
        handler(event, LocalContext("jaeger_credentials"))
    [answer] = answers(cfn)
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("ResourceNotFoundException: ")
    [invocation] = [s for s in spans() if s.kind.name == "SERVER" or s.parent is None]
    assert invocation.status.status_code is StatusCode.ERROR


def test_delete_answers_without_touching_the_secret(ingest_secret, recorder) -> None:
    from functions.jaeger_credentials.handler import handler

    secrets, arn, value = ingest_secret
    cfn = recorder()
    event = cloudformation_event("Delete", {"SecretId": arn}, cfn.url, PhysicalResourceId="Resource")
    assert handler(event, LocalContext("jaeger_credentials")) == "SUCCESS"
    assert json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"]) == value
    assert [(a["Status"], a["PhysicalResourceId"]) for a in answers(cfn)] == [("SUCCESS", "Resource")]


# --- the retention policy ----------------------------------------------------------------------


class OpenSearchStandIn:
    """Answers the ISM policy API as a domain does: 404 until a policy is PUT, then its version."""

    def __init__(self) -> None:
        self.policy: dict | None = None
        self.seq_no = 0

    def __call__(self, request: Recorded) -> tuple[int, object]:
        if request.path.startswith("/_plugins/_ism/policies/jaeger-retention"):
            if request.method == "GET":
                if self.policy is None:
                    return 404, {"error": "not found"}
                return 200, {"_id": "jaeger-retention", "_seq_no": self.seq_no, "_primary_term": 1, **self.policy}
            self.policy = json.loads(request.body)
            self.seq_no += 1
            return 200, {"_id": "jaeger-retention"}
        if request.path.startswith("/_plugins/_ism/change_policy/"):
            return 200, {"updated_indices": 3, "failures": False}
        return 500, {"error": f"unexpected {request.method} {request.path}"}


def retention_event(request_type: str, domain_url: str, days: int, cfn_url: str) -> dict:
    properties = {"DomainEndpoint": domain_url, "RetentionDays": str(days)}
    extra = {"PhysicalResourceId": "Resource"} if request_type != "Create" else {}
    return cloudformation_event(request_type, properties, cfn_url, **extra)


def test_the_policy_reaches_the_domain_signed_and_deletes_after_the_days(local_aws, recorder) -> None:
    from functions.jaeger_retention.handler import handler

    domain, cfn = recorder(OpenSearchStandIn()), recorder()
    assert handler(retention_event("Create", domain.url, 7, cfn.url), LocalContext("jaeger_retention")) == "SUCCESS"
    get, put = domain.requests
    assert (get.method, put.method, put.path) == ("GET", "PUT", "/_plugins/_ism/policies/jaeger-retention")
    for request in (get, put):  # SigV4 for OpenSearch Service: service `es`, the function's region
        assert request.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
        assert "/us-east-1/es/aws4_request" in request.headers["Authorization"]
    policy = json.loads(put.body)["policy"]
    [hot, delete] = policy["states"]
    assert hot["transitions"] == [{"state_name": "delete", "conditions": {"min_index_age": "7d"}}]
    assert delete["actions"] == [{"delete": {}}]
    [template] = policy["ism_template"]
    assert set(template["index_patterns"]) >= {"jaeger-span-*", "jaeger-service-*"}
    assert [a["Status"] for a in answers(cfn)] == ["SUCCESS"]


def test_an_update_moves_the_managed_indices_to_the_new_days(local_aws, recorder) -> None:
    from functions.jaeger_retention.handler import handler

    stand_in = OpenSearchStandIn()
    domain, cfn = recorder(stand_in), recorder()
    handler(retention_event("Create", domain.url, 7, cfn.url), LocalContext("jaeger_retention"))
    handler(retention_event("Update", domain.url, 30, cfn.url), LocalContext("jaeger_retention"))
    put, change = domain.requests[-2:]
    assert put.path == "/_plugins/_ism/policies/jaeger-retention?if_seq_no=1&if_primary_term=1"
    assert json.loads(put.body)["policy"]["states"][0]["transitions"][0]["conditions"] == {"min_index_age": "30d"}
    assert change.path.startswith("/_plugins/_ism/change_policy/jaeger-span-*")
    assert json.loads(change.body) == {"policy_id": "jaeger-retention"}
    assert [a["Status"] for a in answers(cfn)] == ["SUCCESS", "SUCCESS"]


def test_a_domain_that_refuses_fails_the_resource_with_its_answer(local_aws, recorder) -> None:
    from functions.jaeger_retention.handler import handler

    domain = recorder(lambda _r: (403, {"message": "User: arn:aws:sts::1:assumed-role/x is not authorized"}))
    cfn = recorder()
    with pytest.raises(RuntimeError, match="answered 403"):
        handler(retention_event("Create", domain.url, 7, cfn.url), LocalContext("jaeger_retention"))
    [answer] = answers(cfn)
    assert answer["Status"] == "FAILED" and "is not authorized" in answer["Reason"]


def test_delete_leaves_the_policy_with_the_retained_domain(local_aws, recorder) -> None:
    from functions.jaeger_retention.handler import handler

    domain, cfn = recorder(OpenSearchStandIn()), recorder()
    assert handler(retention_event("Delete", domain.url, 7, cfn.url), LocalContext("jaeger_retention")) == "SUCCESS"
    assert domain.requests == []
    assert [a["Status"] for a in answers(cfn)] == ["SUCCESS"]
