"""Twin traced with lambda-otel-lite in its after-response mode, exporting OTLP/HTTP like ours.

Its span processor queues spans for its internal extension, which exports them after the response
(LAMBDA_EXTENSION_SPAN_PROCESSOR_MODE=async); botocore's calls are traced by the same contrib
instrumentation ours uses, so each invocation makes the same three spans.
"""

from __future__ import annotations

from typing import Any

from lambda_otel_lite import create_traced_handler, init_telemetry
from lambda_otel_lite.processor import LambdaSpanProcessor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.botocore import BotocoreInstrumentor

from bench.twins import handle

tracer, completion = init_telemetry(span_processors=[LambdaSpanProcessor(OTLPSpanExporter())])
BotocoreInstrumentor().instrument(tracer_provider=completion.tracer_provider)
traced = create_traced_handler("bench", completion)


@traced
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, context)
