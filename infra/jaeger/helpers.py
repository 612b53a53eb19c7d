"""The Jaeger stack's deploy-time functions: traced like the app's, into the Jaeger it deploys."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import TracerConfig
from infra.nag import acknowledge
from infra.traced_function import TracedFunction


def helper_config(config: TracerConfig) -> TracerConfig:
    """How this stack's own functions are traced: into the Jaeger it deploys, whatever the app's exporter."""
    return replace(config, exporter="jaeger", jaeger_endpoint=None, jaeger_headers_secret=None, snap_start=False)


def helper_function(
    scope: Construct, construct_id: str, *, config: TracerConfig, code: lambda_.Code, service_name: str, **props: Any
) -> TracedFunction:
    """A custom resource handler `functions/<service_name>`: answers CloudFormation once, never retried."""
    fn = TracedFunction(
        scope,
        construct_id,
        config=helper_config(config),
        service_name=service_name,
        handler=f"functions.{service_name}.handler.handler",
        code=code,
        timeout_seconds=120,  # every call inside is bounded well below this: CloudFormation always hears back
        **props,
    )
    # CloudFormation has its answer (FAILED included) before the function ends: a retry would answer twice.
    fn.configure_async_invoke(retry_attempts=0)
    acknowledge(
        fn,
        ("Serverless-LambdaDLQ", "Serverless-LambdaAsyncFailureDestination"),
        "A custom resource handler: it answers CloudFormation, which shows a failure in the stack's events and "
        "rolls back; a queue would hold an event nobody can replay.",
    )
    return fn
