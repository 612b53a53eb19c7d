"""What `-c exporter=` changes, as data: the table in docs/architecture.md, one row per field.

Everything that differs between X-Ray, Jaeger and both is decided here and nowhere else;
`TracedFunction`, the stack and tracectl's local runner only read a profile or its environment.
No aws_cdk import: tracectl imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.config import TracerConfig

COLLECTOR_CONFIG_ENV = "OPENTELEMETRY_COLLECTOR_CONFIG_URI"
# Read by collector/jaeger.yaml and both.yaml as ${env:...}: no standard name exists for these.
JAEGER_ENDPOINT_ENV = "JAEGER_ENDPOINT"
JAEGER_AUTHORIZATION_ENV = "JAEGER_AUTHORIZATION"
# Read by functions/tracing/_settings.py (no standard name exists): see TracerConfig.export_delay_s.
EXPORT_DELAY_ENV = "TRACING_EXPORT_DELAY_S"
# Where functions send OTLP: the ADOT collector extension, inside the execution environment.
OTLP_ENDPOINT = "http://localhost:4318"


# The OTel SDK's standard limits, so that one span's X-Ray segment document stays under X-Ray's
# 64 KB (the awsxray exporter loses a larger one whole). A span's attributes become annotations or
# metadata, its exception events the segment's `cause`:
#   32 attributes x 1 KiB + 2 events x 4 attributes x 2 KiB + 10 links ≈ 48 KiB of values, + ids and names.
# An SQS batch (≤ 10 records) keeps a link per record; an exception keeps 2 KiB of stack trace.
# Longer values are truncated, extra attributes dropped: the span itself is always delivered.
SPAN_LIMITS = {
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "32",
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "1024",
    "OTEL_SPAN_EVENT_COUNT_LIMIT": "2",
    "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT": "4",
    "OTEL_SPAN_LINK_COUNT_LIMIT": "10",
    "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT": "4",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "2048",  # events' and links' values
}


@dataclass(frozen=True, kw_only=True)
class ExporterProfile:
    lambda_tracing: str
    """Lambda `TracingConfig.Mode`: `Active` where X-Ray is a target, else `PassThrough`."""
    api_tracing: bool
    """API Gateway stage X-Ray tracing."""
    propagators: str
    """`OTEL_PROPAGATORS`. `xray-lambda` only with Active tracing: with tracing off Lambda's
    `_X_AMZN_TRACE_ID` says `Sampled=0` and its parent segment never reaches Jaeger."""
    sampler: str
    sampler_arg: str | None
    collector_config: str
    """File name under `collector/`."""
    xray_write: bool
    """Grant xray:PutTraceSegments/PutTelemetryRecords and create the X-Ray group + sampling rule."""


def profile_for(config: TracerConfig) -> ExporterProfile:
    if config.exporter == "jaeger":
        return ExporterProfile(
            lambda_tracing="PassThrough",
            api_tracing=False,
            propagators="tracecontext,baggage,xray",
            sampler="parentbased_traceidratio",
            sampler_arg=repr(config.sampling_ratio),
            collector_config="jaeger.yaml",
            xray_write=False,
        )
    return ExporterProfile(
        lambda_tracing="Active",
        api_tracing=True,
        propagators="tracecontext,baggage,xray-lambda",
        sampler="parentbased_always_on",
        sampler_arg=None,
        collector_config=f"{config.exporter}.yaml",
        xray_write=True,
    )


@dataclass(frozen=True)
class JaegerTarget:
    """Where the collector sends to Jaeger and the `Authorization` header it sends."""

    endpoint: str
    """The OTLP/HTTP base URL (the exporter appends /v1/traces); a CDK token for the deployed Jaeger."""
    authorization: str = ""
    """A CloudFormation dynamic reference to the header's value in Secrets Manager, or "" for none."""


def secret_reference(secret: str, json_key: str | None = None) -> str:
    """A CloudFormation dynamic reference to a secret's value (or one JSON key of it).

    CloudFormation resolves it at deploy time: the value is never written to the template or cdk.out.
    """
    key = f":{json_key}" if json_key else ""
    return f"{{{{resolve:secretsmanager:{secret}:SecretString{key}}}}}"


def configured_jaeger(config: TracerConfig) -> JaegerTarget | None:
    """The Jaeger `-c jaegerEndpoint` (and `-c jaegerHeadersSecret`) names; None when none is given."""
    if not (config.sends_to_jaeger and config.jaeger_endpoint):
        return None
    authorization = secret_reference(config.jaeger_headers_secret) if config.jaeger_headers_secret else ""
    return JaegerTarget(endpoint=config.jaeger_endpoint, authorization=authorization)


def tracing_environment(config: TracerConfig, service_name: str, jaeger: JaegerTarget | None = None) -> dict[str, str]:
    """The environment that makes a function traced, for the configured exporter.

    `jaeger` is the deployed Jaeger (-c deployJaeger=true); by default, the one the context names.
    """
    profile = profile_for(config)
    env = {
        COLLECTOR_CONFIG_ENV: f"/var/task/collector/{profile.collector_config}",
        "OTEL_SERVICE_NAME": service_name,
        "OTEL_PROPAGATORS": profile.propagators,
        "OTEL_TRACES_SAMPLER": profile.sampler,
        "OTEL_EXPORTER_OTLP_ENDPOINT": OTLP_ENDPOINT,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        EXPORT_DELAY_ENV: f"{config.export_delay_s:g}",
        # The contrib instrumentations' HTTP spans use the stable names too, as our own spans do.
        "OTEL_SEMCONV_STABILITY_OPT_IN": "http",
        **SPAN_LIMITS,
    }
    if profile.sampler_arg is not None:
        env["OTEL_TRACES_SAMPLER_ARG"] = profile.sampler_arg
    target = (jaeger or configured_jaeger(config)) if config.sends_to_jaeger else None
    if target is not None:
        env[JAEGER_ENDPOINT_ENV] = target.endpoint
        env[JAEGER_AUTHORIZATION_ENV] = target.authorization
    return env
