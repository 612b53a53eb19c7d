"""Nothing secret in a span or a log line: URLs, credential query parameters, sensitive headers.

GIVEN secrets fed in through the API, the `http` function's outbound URL and botocore calls,
THEN what the exporter receives and what the JSON logs print carries `REDACTED` in their place.
"""

from __future__ import annotations

import json

import pytest
import urllib3
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from functions.tracing._redaction import redact_attribute, redact_text, redact_url
from tests.events import LocalContext, api_request, sns_event_for

SECRET = "s3cr3t-0f-th3-t3st"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://u:p@example.com/a?b=1", "https://REDACTED:REDACTED@example.com/a?b=1"),
        ("https://token-only@example.com/", "https://REDACTED:REDACTED@example.com/"),
        (
            "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20261123"
            "&X-Amz-Security-Token=FwoG&X-Amz-Signature=abc123&X-Amz-Expires=60",
            "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED"
            "&X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED&X-Amz-Expires=60",
        ),
        (
            "https://b.s3.amazonaws.com/k?AWSAccessKeyId=AKIA&Signature=xyz&Expires=1",
            "https://b.s3.amazonaws.com/k?AWSAccessKeyId=REDACTED&Signature=REDACTED&Expires=1",
        ),
        ("http://h/cb?code=42&state=ok&sig=9&TOKEN=t", "http://h/cb?code=REDACTED&state=ok&sig=REDACTED&TOKEN=REDACTED"),
        ("/orders?token=abc&page=2", "/orders?token=REDACTED&page=2"),
        ("https://example.com/plain?page=2#frag", "https://example.com/plain?page=2#frag"),
        ("http://[::1", "http://[::1"),  # malformed: left as it is, never raises
    ],
)
def test_urls_lose_their_credentials_and_nothing_else(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_urls_inside_text_and_header_attributes_are_redacted() -> None:
    message = f"failed calling https://api.example.com/x?token={SECRET} (and https://ok.example.com/)"
    assert redact_text(message) == "failed calling https://api.example.com/x?token=REDACTED (and https://ok.example.com/)"
    for key in ("http.request.header.authorization", "http.request.header.cookie", "http.response.header.set_cookie"):
        assert redact_attribute(key, (f"Bearer {SECRET}",)) == ("REDACTED",)
    assert redact_attribute("http.request.header.x-amz-security-token", SECRET) == "REDACTED"
    value = "nothing to see"
    assert redact_attribute("http.request.header.accept", value) is value
    assert redact_attribute("note", value) is value  # unchanged values are the very same object


def everything_exported(finished) -> str:
    """Every attribute, event attribute, status message and name of the exported spans, as text."""
    return json.dumps(
        [
            {
                "name": s.name,
                "attributes": dict(s.attributes),
                "events": [dict(e.attributes) for e in s.events],
                "status": s.status.description,
            }
            for s in finished
        ],
        default=str,
    )


def test_secrets_sent_to_the_api_never_reach_a_span(handler, spans, capsys) -> None:
    # GIVEN an API request carrying credentials in headers and a signed query
    headers = {
        "Authorization": f"Bearer {SECRET}",
        "Cookie": f"session={SECRET}",
        "X-Amz-Security-Token": SECRET,
    }
    response = handler("ingest")(api_request("/orders/1", headers), LocalContext("ingest"))
    assert response["statusCode"] == 200
    # THEN no exported span and no log line holds any of them
    exported = everything_exported(spans())
    assert "GET /{proxy+}" in exported
    assert SECRET not in exported
    assert SECRET not in capsys.readouterr().out


def test_captured_sensitive_headers_are_exported_as_redacted(handler, spans) -> None:
    # GIVEN an instrumentation that captured request headers (OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*)
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("captured", kind=SpanKind.SERVER) as span:
        span.set_attribute("http.request.header.authorization", [f"Bearer {SECRET}"])
        span.set_attribute("http.request.header.accept", ["application/json"])
    [exported] = [s for s in spans() if s.name == "captured"]
    assert exported.attributes["http.request.header.authorization"] == ("REDACTED",)
    assert exported.attributes["http.request.header.accept"] == ("application/json",)


def test_the_http_functions_outbound_url_is_redacted_in_spans_and_logs(
    handler, spans, monkeypatch, external_endpoint, capsys
) -> None:
    # GIVEN the external URL carries a user:password and a token
    host = external_endpoint.removeprefix("http://")
    url = f"http://user:{SECRET}@{host}callback?token={SECRET}&page=2"
    monkeypatch.setenv("EXTERNAL_URL", url)
    monkeypatch.setenv("FAULT_RATE", "0")
    # WHEN the function calls it
    assert handler("http")(sns_event_for("/out"), LocalContext("http")) == {"calls": 1}
    finished = spans()
    # THEN urllib3's client span records the URL redacted (urllib3 leaves the user:password out
    # itself), and the function's log line, which has the whole URL, redacts both
    [call] = [s for s in finished if s.kind == SpanKind.CLIENT]
    assert call.attributes["url.full"] == f"http://{host}callback?token=REDACTED&page=2"
    assert SECRET not in everything_exported(finished)
    logged = capsys.readouterr().out
    assert f"http://REDACTED:REDACTED@{host}callback?token=REDACTED&page=2" in logged
    assert SECRET not in logged


def test_a_fault_message_with_the_url_is_redacted_in_the_exception_and_status(
    handler, spans, monkeypatch, external_endpoint, capsys
) -> None:
    url = f"{external_endpoint}?sig={SECRET}"
    monkeypatch.setenv("EXTERNAL_URL", url)
    monkeypatch.setenv("FAULT_RATE", "1")
    module = __import__("functions.http.handler", fromlist=["DeliberateFault"])
    with pytest.raises(module.DeliberateFault, match=SECRET):  # the handler's own exception is unchanged
        handler("http")(sns_event_for("/boom"), LocalContext("http"))
    finished = spans()
    [consumer] = [s for s in finished if s.attributes.get("faas.trigger") == "pubsub"]
    [exception] = [e for e in consumer.events if e.name == "exception"]
    assert "sig=REDACTED" in exception.attributes["exception.message"]
    assert "sig=REDACTED" in exception.attributes["exception.stacktrace"]
    assert SECRET not in everything_exported(finished)
    assert SECRET not in capsys.readouterr().out


def test_botocore_calls_and_a_presigned_url_leak_no_credential(local_aws, spans) -> None:
    # GIVEN a session token and a presigned S3 URL (signature, credential, token in its query)
    import boto3
    from botocore.config import Config

    def s3(signature_version: str):
        return boto3.client(
            "s3",
            endpoint_url=local_aws.endpoint,
            region_name="us-east-1",
            aws_access_key_id="AKIATESTREDACTION",
            aws_secret_access_key=SECRET,
            aws_session_token=f"token-{SECRET}",
            config=Config(signature_version=signature_version),
        )

    s3("s3").create_bucket(Bucket="redaction")
    s3("s3").put_object(Bucket="redaction", Key="k", Body=b"x")
    key = {"Bucket": "redaction", "Key": "k"}
    urls = [s3(version).generate_presigned_url("get_object", Params=key) for version in ("s3", "s3v4")]
    assert all(f"token-{SECRET}" in url for url in urls)  # the session token travels in the query
    # WHEN they are fetched with urllib3 (instrumented) inside a traced span
    with trace.get_tracer("test").start_as_current_span("fetch"):
        for url in urls:
            assert urllib3.request("GET", url).status == 200
    finished = spans()
    # THEN neither botocore's spans nor urllib3's hold the secret, the token or a signature
    exported = everything_exported(finished)
    assert any(s.attributes.get("rpc.service") == "S3" for s in finished)
    assert SECRET not in exported
    sigv2_url, sigv4_url = (s.attributes["url.full"] for s in finished if "url.full" in s.attributes)
    assert "AWSAccessKeyId=REDACTED&Signature=REDACTED&x-amz-security-token=REDACTED" in sigv2_url
    for parameter in ("X-Amz-Credential", "X-Amz-Security-Token", "X-Amz-Signature"):
        assert f"{parameter}=REDACTED" in sigv4_url
