"""The demo's uploader: puts objects in the uploads bucket, each in a span of its own.

Its context travels in the object's user metadata (`traceparent`), where the `upload` function
reads it: an S3 notification has no field for it. Its PutObject also carries the span's X-Ray
header, as botocore's instrumentation sends it: S3 hands that header to the function it notifies,
which is how the `upload` invocation joins the uploader's trace in X-Ray modes. The uploader has a
tracer provider of its own (service `uploader`, X-Ray-valid ids), not the global one: the process
it runs in also runs the AWS emulator, whose own calls must not be traced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.propagators.aws import AwsXRayPropagator
from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from tracectl.emulation import span_record
from tracectl.emulation.span_record_layer.span_recorder import SpanRecorder

SERVICE = "uploader"


class Uploader:
    def __init__(self, s3_client: Any, bucket: str, *, otlp_endpoint: str, record_dir: Path | None = None) -> None:
        """`record_dir`: also record each finished span there, as the functions' span-record layer does."""
        self._s3 = s3_client
        self.bucket = bucket
        self._provider = TracerProvider(
            resource=Resource.create({"service.name": SERVICE}), id_generator=AwsXRayIdGenerator()
        )
        exporter = OTLPSpanExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces", timeout=5)
        self._provider.add_span_processor(SimpleSpanProcessor(exporter))
        if record_dir is not None:
            self._provider.add_span_processor(SpanRecorder(str(span_record.record_file(record_dir, SERVICE))))
        self._tracer = self._provider.get_tracer("tracectl.emulation.uploader")
        self._s3.meta.events.register("before-sign.s3.PutObject", _with_xray_header)

    def upload(self, key: str, body: bytes) -> str:
        """PutObject `key` in a PRODUCER span `<bucket> upload`; returns the upload's trace id (32 hex)."""
        with self._tracer.start_as_current_span(f"{self.bucket} upload", kind=SpanKind.PRODUCER) as span:
            span.set_attribute("aws.s3.bucket", self.bucket)
            span.set_attribute("aws.s3.key", key)
            carrier: dict[str, str] = {}
            TraceContextTextMapPropagator().inject(carrier)
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, Metadata=carrier)
            return f"{span.get_span_context().trace_id:032x}"

    def shutdown(self) -> None:
        self._provider.shutdown()


def _with_xray_header(request: Any, **_: Any) -> None:
    """The current span's X-Ray header on the request, as botocore's instrumentation adds it."""
    carrier: dict[str, str] = {}
    AwsXRayPropagator().inject(carrier)
    for name, value in carrier.items():
        request.headers[name] = value
