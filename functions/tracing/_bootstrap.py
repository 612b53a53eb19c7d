"""The tracer provider every handler shares, configured only from the standard `OTEL_*` env vars.

`setup()` is idempotent: the first call builds the provider (X-Ray id generator, Lambda resource,
kept-span processor → redaction → OTLP/HTTP exporter, the exporter built at the first export) and
instruments botocore and urllib3 (unless OTEL_PYTHON_DISABLED_INSTRUMENTATIONS names them); later
calls return the same provider and change nothing. `flush()` exports what is kept within a bounded
time. `export_after_response(handler)` registers the after-response exporter and the shutdown
export when `handler` is the one Lambda calls (functions/tracing/_extension.py, _shutdown.py);
`invocation_finished()` is what the handler's wrapper does last either way.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk.extension.aws.resource._lambda import AwsLambdaResourceDetector
from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from functions.tracing import _extension, _settings, _shutdown, _snapstart
from functions.tracing._kept_spans import KeptSpanProcessor
from functions.tracing._message_injection import inject_trace_context
from functions.tracing._redaction import RedactingExporter
from functions.tracing._state import state

_logger = logging.getLogger(__name__)


def setup(exporter: SpanExporter | None = None) -> TracerProvider:
    """Build (once) and return the provider. `exporter` replaces OTLP/HTTP, e.g. in tests.

    Never raises: if tracing cannot be set up, the handler still imports and runs, untraced.
    """
    with state.lock:
        if state.provider is not None:
            return state.provider
        state.export_timeout_s = _settings.export_timeout_s()
        state.export_delay_s = _settings.export_delay_s()
        try:
            provider = TracerProvider(resource=_resource(), id_generator=AwsXRayIdGenerator())
            processor = KeptSpanProcessor(RedactingExporter(exporter or _OtlpOnFirstExport()), state.export_timeout_s)
            provider.add_span_processor(processor)
            state.processor = processor
            trace.set_tracer_provider(provider)
            _instrument(provider)
            _snapstart.register(before_snapshot=flush)
        except Exception:  # telemetry never breaks the handler: log and go on
            _logger.exception("tracing: setup failed; the function runs untraced")
            provider = TracerProvider()
        state.provider = provider
        return provider


def export_after_response(caller_module: str | None) -> None:
    """Register the after-response exporter, once, when `@traced` is applied in the handler's module.

    Only in Lambda (the Runtime API is there), only from the module `_HANDLER` names (so during
    init, before the runtime asks for its first event, as Lambda requires), only once.
    """
    with state.lock:
        if state.after_response_decided:
            return
        runtime_api, named = _settings.runtime_api(), _settings.lambda_handler()
        if runtime_api is None or named is None:
            _settings.say_once("mode", logging.INFO, "tracing: not in Lambda (no %s): exporting before each "
                               "response", _settings.RUNTIME_API)
            return
        if caller_module != named.rpartition(".")[0]:
            return  # a traced function in another module: the handler's own module decides
        state.after_response_decided = True
        if not _settings.export_after_response():
            _settings.say_once("mode", logging.INFO, "tracing: %s=false: exporting before each response",
                               _settings.EXPORT_AFTER_RESPONSE)
            return
        state.after_response = _extension.register(
            runtime_api, after_invocation=_after_invocation, export=_export_within, timeout_s=state.export_timeout_s
        )
        if state.after_response is not None:
            _shutdown.install(_export_at_shutdown)


def invocation_finished(request_id: str | None) -> None:
    """The outermost traced call of an invocation returned: the after-response exporter takes its
    spans if the invocation is one it has seen begin; else (init-time calls, or the rare first
    invocation that finishes before the extension heard of it) they are flushed now."""
    exporter = state.after_response
    if exporter is None or not exporter.working or not exporter.invocation_finished(request_id):
        flush()


def _after_invocation(left_s: float | None) -> None:
    """Export the spans kept, now (TRACING_EXPORT_DELAY_S unset or 0) or once a batch is due: each
    request within the export timeout, all of them within `left_s` (the invocation's time left)."""
    processor = state.processor
    if processor is None or not (state.export_delay_s == 0 or processor.due(state.export_delay_s)):
        return
    bound = state.export_timeout_s * max(1, processor.requests())
    if left_s is not None:
        bound = min(bound, left_s)
    processor.export(bound)


class _OtlpOnFirstExport(SpanExporter):
    """The OTLP/HTTP exporter, imported and built at the first export: after the first response,
    not during init (its modules, protobuf's among them, are a good part of a cold start)."""

    def __init__(self) -> None:
        self._exporter: SpanExporter | None = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._exporter is None:
            self._exporter = _otlp_exporter()
        return self._exporter.export(spans)

    def shutdown(self) -> None:
        if self._exporter is not None:
            self._exporter.shutdown()


def _otlp_exporter() -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    try:
        # The urllib3 transport: botocore has already imported urllib3, while the default
        # transport imports `requests` too (~35 ms of cold start, measured in bench/).
        from opentelemetry.exporter.http.transport._urllib3 import Urllib3HTTPTransport

        transport = Urllib3HTTPTransport()
        exporter = OTLPSpanExporter(timeout=state.export_timeout_s, _transport=transport)
    except (ImportError, TypeError):  # the transport API is young: fall back to the default
        return OTLPSpanExporter(timeout=state.export_timeout_s)
    state.transport = transport
    return exporter


def flush() -> None:
    """Export the spans kept, waiting at most the export timeout. Never raises."""
    _export_within(state.export_timeout_s)


def _export_at_shutdown(seconds: float) -> bool:
    """The last chance: whatever the breaker says, within `seconds`; what does not make it is counted."""
    processor = state.processor
    if processor is None:
        return True
    if processor.export(seconds, last=True):
        return True
    _logger.warning("tracing: shutting down: the backend did not confirm %d spans within %.2f s",
                    processor.undelivered(), seconds)
    return False


def _export_within(seconds: float) -> bool:
    if state.processor is None:
        return True
    try:
        return state.processor.export(seconds)
    except Exception:  # telemetry never breaks the handler: log and go on
        _logger.exception("tracing: export failed")
        return False


def _resource() -> Resource:
    resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
    if _settings.FUNCTION_NAME not in os.environ:
        return resource
    try:
        lambda_resource = AwsLambdaResourceDetector().detect()
    except Exception:  # telemetry never breaks the handler: log and go on
        _logger.warning("tracing: Lambda resource detection failed", exc_info=True)
        return resource
    log_group = os.environ.get(_settings.LOG_GROUP)
    extra = Resource({"aws.log.group.names": [log_group]}) if log_group else Resource.get_empty()
    return resource.merge(lambda_resource).merge(extra)


def _instrument(provider: TracerProvider) -> None:
    """botocore and urllib3, unless named in OTEL_PYTHON_DISABLED_INSTRUMENTATIONS (the standard variable)."""
    disabled = _settings.disabled_instrumentations()
    try:
        if "botocore" not in disabled:
            from opentelemetry.instrumentation.botocore import BotocoreInstrumentor

            # skip_dep_check: the bundle pins what it ships; the check reads installed distributions' metadata.
            BotocoreInstrumentor().instrument(
                tracer_provider=provider, request_hook=inject_trace_context, skip_dep_check=True
            )
        if "urllib3" not in disabled:
            from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor

            URLLib3Instrumentor().instrument(tracer_provider=provider, skip_dep_check=True)
    except Exception:  # telemetry never breaks the handler: log and go on
        _logger.exception("tracing: instrumentation failed; handler runs with manual spans only")
