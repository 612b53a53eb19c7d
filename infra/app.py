"""Builds the whole CDK app from its context: the one entry point app.py and the tests share."""

from __future__ import annotations

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra.config import TracerConfig
from infra.stack import TracerStack
from infra.tracing_guard import EveryFunctionTraced

STACK_NAME = "OtelTracer"


def build(app: App) -> TracerStack:
    """Add the stack and the synth-time policies (tracing guard, cdk-nag AwsSolutions and Serverless) to `app`.

    Raises `ConfigError` (one line, names the flag) when the context is invalid.
    """
    config = TracerConfig.from_context(app.node.try_get_context)
    stack = TracerStack(
        app, STACK_NAME, config=config, description=f"OTel Tracer demo app, traces to {config.exporter}"
    )
    Validations.of(app).add_plugins(EveryFunctionTraced(config), AwsSolutionsChecks(app), ServerlessChecks(app))
    return stack
