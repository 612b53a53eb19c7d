"""What `-c exporter=` changes, as data: shared/DESIGN.md §3, one row per field.

Everything that differs between X-Ray, Jaeger and both is decided here and nowhere else;
`TracedFunction` and the stack only read a profile.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.config import TracerConfig


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
