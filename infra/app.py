"""Builds the whole CDK app from its context: the one entry point app.py and the tests share."""

from __future__ import annotations

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra.bundling import function_code
from infra.config import TracerConfig
from infra.jaeger.helpers import helper_config
from infra.jaeger_stack import JaegerStack
from infra.stack import TracerStack
from infra.tracing_guard import EveryFunctionTraced

STACK_NAME = "OtelTracer"
JAEGER_STACK_NAME = "OtelTracerJaeger"


def build(app: App) -> TracerStack:
    """Add the stack(s) and the synth-time policies (tracing guard, cdk-nag AwsSolutions and Serverless) to `app`.

    With `-c deployJaeger=true` a second stack deploys a Jaeger and the app's functions send to it.
    Raises `ConfigError` (one line, names the flag) when the context is invalid.
    """
    config = TracerConfig.from_context(app.node.try_get_context)
    code = function_code(config)
    configs = {STACK_NAME: config}
    jaeger = None
    if config.deploy_jaeger:
        jaeger_stack = JaegerStack(
            app,
            JAEGER_STACK_NAME,
            config=config,
            code=function_code(config),
            description="OTel Tracer: Jaeger v2 on Fargate over OpenSearch, for the app's traces",
        )
        jaeger = jaeger_stack.target
        configs[JAEGER_STACK_NAME] = helper_config(config)
    stack = TracerStack(
        app,
        STACK_NAME,
        config=config,
        code=code,
        jaeger=jaeger,
        description=f"OTel Tracer demo app, traces to {config.exporter}",
    )
    Validations.of(app).add_plugins(EveryFunctionTraced(configs), AwsSolutionsChecks(app), ServerlessChecks(app))
    return stack
