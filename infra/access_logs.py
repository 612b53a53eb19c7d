"""The access log format both stacks' APIs write: one JSON line per request."""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigw


def access_log_format() -> apigw.AccessLogFormat:
    """One JSON line per API request: who called which route how, and the answer (no identities)."""
    return apigw.AccessLogFormat.json_with_standard_fields(
        caller=False,
        http_method=True,
        ip=True,
        protocol=True,
        request_time=True,
        resource_path=True,
        response_length=True,
        status=True,
        user=False,
    )
