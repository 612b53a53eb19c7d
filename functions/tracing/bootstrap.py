"""The tracer provider every handler shares, configured only from the standard `OTEL_*` env vars.

`setup()` is idempotent: the first call builds the provider (X-Ray id generator, Lambda resource,
batch processor → redaction → OTLP/HTTP exporter) and instruments botocore and urllib3 (unless
OTEL_PYTHON_DISABLED_INSTRUMENTATIONS names them); later calls return
the same provider and change nothing. `flush()` exports what is buffered within a bounded time.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.extension.aws.resource._lambda import AwsLambdaResourceDetector
from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from functions.tracing import snapstart
from functions.tracing.message_injection import inject_trace_context
from functions.tracing.redaction import RedactingExporter

_logger = logging.getLogger(__name__)
_lock = threading.Lock()
_provider: TracerProvider | None = None
_transport: Any = None  # the OTLP exporter's HTTP transport, when we chose it
_timeout_s = 0.0

# Seconds the OTLP exporter may take per request, unless OTEL_EXPORTER_OTLP[_TRACES]_TIMEOUT says.
# In Lambda the collector answers on localhost; this bounds how long a broken pipeline can hold
# an invocation (flush waits at most this long).
DEFAULT_EXPORT_TIMEOUT_S = 2.0


def _export_timeout_from_env() -> float:
    for name in ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"):
        try:
            return float(os.environ[name])
        except (KeyError, ValueError):
            continue
    return DEFAULT_EXPORT_TIMEOUT_S


def setup(exporter: SpanExporter | None = None) -> TracerProvider:
    """Build (once) and return the provider. `exporter` replaces OTLP/HTTP, e.g. in tests.

    Never raises: if tracing cannot be set up, the handler still imports and runs, untraced.
    """
    global _provider, _timeout_s
    with _lock:
        if _provider is not None:
            return _provider
        _timeout_s = _export_timeout_from_env()
        try:
            provider = TracerProvider(resource=_resource(), id_generator=AwsXRayIdGenerator())
            provider.add_span_processor(
                BatchSpanProcessor(
                    RedactingExporter(exporter or _otlp_exporter()), export_timeout_millis=_timeout_s * 1000
                )
            )
            trace.set_tracer_provider(provider)
            _instrument(provider)
            snapstart.register()
        except Exception:  # telemetry never breaks the handler: log and go on
            _logger.exception("tracing: setup failed; the function runs untraced")
            provider = TracerProvider()
        _provider = provider
        return provider


def _otlp_exporter() -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    try:
        # The urllib3 transport: botocore has already imported urllib3, while the default
        # transport imports `requests` too (~35 ms of cold start, measured in bench/).
        from opentelemetry.exporter.http.transport._urllib3 import Urllib3HTTPTransport

        transport = Urllib3HTTPTransport()
        exporter = OTLPSpanExporter(timeout=_timeout_s, _transport=transport)
    except (ImportError, TypeError):  # the transport API is young: fall back to the default
        return OTLPSpanExporter(timeout=_timeout_s)
    global _transport
    _transport = transport
    return exporter


def drop_connections() -> None:
    """Close the exporter's pooled connections; the next export opens new ones (after a SnapStart restore)."""
    if _transport is not None:
        _transport.close()


def flush() -> None:
    """Export buffered spans, waiting at most the export timeout. Never raises."""
    if _provider is None:
        return
    try:
        if not _provider.force_flush(timeout_millis=int(_timeout_s * 1000)):
            _logger.warning("tracing: flush did not finish within %.1f s; spans may be lost", _timeout_s)
    except Exception:  # telemetry never breaks the handler: log and go on
        _logger.exception("tracing: flush failed")


def _resource() -> Resource:
    resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
    if "AWS_LAMBDA_FUNCTION_NAME" not in os.environ:
        return resource
    try:
        lambda_resource = AwsLambdaResourceDetector().detect()
    except Exception:  # telemetry never breaks the handler: log and go on
        _logger.warning("tracing: Lambda resource detection failed", exc_info=True)
        return resource
    log_group = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
    extra = Resource({"aws.log.group.names": [log_group]}) if log_group else Resource.get_empty()
    return resource.merge(lambda_resource).merge(extra)


def _instrument(provider: TracerProvider) -> None:
    """botocore and urllib3, unless named in OTEL_PYTHON_DISABLED_INSTRUMENTATIONS (the standard variable)."""
    disabled = {name.strip() for name in os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")}
    try:
        if "botocore" not in disabled:
            from opentelemetry.instrumentation.botocore import BotocoreInstrumentor

            BotocoreInstrumentor().instrument(tracer_provider=provider, request_hook=inject_trace_context)
        if "urllib3" not in disabled:
            from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor

            URLLib3Instrumentor().instrument(tracer_provider=provider)
    except Exception:  # telemetry never breaks the handler: log and go on
        _logger.exception("tracing: instrumentation failed; handler runs with manual spans only")
