"""`TracedFunction`: the one place that knows how a function of this app is traced.

It is an ordinary `lambda_.Function` (grants and event sources work as usual) that also
- runs the ADOT collector extension layer for the configured architecture,
- points the collector at the exporter's YAML shipped in the bundle,
- sets the standard `OTEL_*` variables the bootstrap in `functions/tracing` reads, and
- sets Lambda's own tracing mode; X-Ray write permission follows from Active mode only;
- with `-c snapStart=true`, publishes a version with SnapStart and a `live` alias: `target` is
  what API Gateway and event sources must invoke (the alias, or the function itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import python_runtime, topology
from infra.bundling import runtime_of
from infra.config import TracerConfig
from infra.exporter_profile import JaegerTarget, profile_for, tracing_environment
from infra.nag import acknowledge

ADOT_ACCOUNT = "901920570463"
ADOT_LAYER_VERSION = "ver-0-117-0:1"
_LAYER_ARCH = {"x86_64": "amd64", "arm64": "arm64"}


def layer_name(architecture: str) -> str:
    """The ADOT collector layer's name and version for `architecture`, e.g. `aws-otel-collector-amd64-ver-0-117-0:1`."""
    return f"aws-otel-collector-{_LAYER_ARCH[architecture]}-{ADOT_LAYER_VERSION}"


def collector_layer_arn(scope: Construct, config: TracerConfig) -> str:
    """The ADOT collector layer in the stack's region, or the `-c collectorLayerArn` override."""
    if config.collector_layer_arn:
        return config.collector_layer_arn
    region = Stack.of(scope).region
    return f"arn:aws:lambda:{region}:{ADOT_ACCOUNT}:layer:{layer_name(config.architecture)}"


class TracedFunction(lambda_.Function):
    """A Lambda function traced for `config.exporter`. Every function in the app is one of these.

    `jaeger` is where it sends to Jaeger when that is not the context's `-c jaegerEndpoint`
    (the deployed Jaeger, see infra/jaeger_stack.py).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: TracerConfig,
        service_name: str,
        handler: str,
        code: lambda_.Code,
        jaeger: JaegerTarget | None = None,
        environment: Mapping[str, str] | None = None,
        timeout_seconds: int = topology.FUNCTION_TIMEOUT_SECONDS,
        memory_size: int = topology.FUNCTION_MEMORY_MB,
        **function_props: Any,
    ) -> None:
        profile = profile_for(config)
        log_group = logs.LogGroup(
            scope,
            f"{construct_id}Logs",
            retention=logs.RetentionDays.ONE_WEEK,
            removal_policy=RemovalPolicy.DESTROY,
        )
        super().__init__(
            scope,
            construct_id,
            runtime=runtime_of(config),
            architecture=lambda_.Architecture.ARM_64 if config.architecture == "arm64" else lambda_.Architecture.X86_64,
            handler=handler,
            code=code,
            memory_size=memory_size,
            timeout=Duration.seconds(timeout_seconds),
            log_group=log_group,
            # Active adds xray:PutTraceSegments/PutTelemetryRecords to the role; PassThrough is
            # set below on the L1 so that no X-Ray permission is granted for Jaeger.
            tracing=lambda_.Tracing.ACTIVE if profile.lambda_tracing == "Active" else None,
            environment={**tracing_environment(config, service_name, jaeger), **(environment or {})},
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if config.snap_start else None,
            **function_props,
        )
        # SnapStart applies to published versions only; $LATEST would start cold, unsnapshotted.
        self.target: lambda_.IFunction = (
            lambda_.Alias(self, "Live", alias_name="live", version=self.current_version) if config.snap_start else self
        )
        self.add_layers(
            lambda_.LayerVersion.from_layer_version_arn(self, "Collector", collector_layer_arn(self, config))
        )
        if config.python_runtime != python_runtime.NEWEST:
            reason = (
                f"The runtime follows the Python that built the bundle ({config.python_runtime}), so the bundle "
                "carries bytecode the runtime can use: without it every cold start compiles every module, more "
                f"than doubling cold start. -c pythonRuntime={python_runtime.NEWEST} picks the latest runtime."
            )
            acknowledge(self, ("AwsSolutions-L1", "Serverless-LambdaLatestVersion"), reason)
        if profile.xray_write:
            acknowledge(
                self,
                "AwsSolutions-IAM5[Resource::*]",
                "xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions: "
                "Resource * is required for the collector to send traces to X-Ray.",
            )
        if profile.lambda_tracing != "Active":
            cfn = self.node.default_child
            assert isinstance(cfn, lambda_.CfnFunction)
            cfn.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode=profile.lambda_tracing)
            acknowledge(
                self,
                "Serverless-LambdaTracing",
                "Jaeger-only deploy: OpenTelemetry traces the function. Active X-Ray tracing would make segments "
                "nobody reads and, with tracing off, Lambda's trace header says Sampled=0.",
            )
