"""The segments AWS writes itself into a trace, written locally where the run plays those services.

In AWS, with API Gateway stage tracing and Lambda's Active tracing (the X-Ray modes), a request's
trace holds segments no OTel SDK sends:

- API Gateway writes `<api>/<stage>` (origin `AWS::ApiGateway::Stage`), the trace's root, with an
  `http` block and a `Lambda` subsegment (namespace `aws`) for the integration call;
- Lambda, the service, writes a segment named after the function (origin `AWS::Lambda`) for each
  invocation, whose parent is what the invoker's header named (API Gateway's `Lambda` subsegment, the
  publishing span), or none where Lambda starts the trace (SQS, DynamoDB Streams);
- Lambda, for the function, writes one more (origin `AWS::Lambda::Function`) under the service
  segment, with `Invocation` and `Overhead` subsegments;

and the runtime's `_X_AMZN_TRACE_ID` names the function segment as `Parent`, so the handler's own
span hangs under it. `AwsSegments` makes those ids before an invocation (`invocation`, `api_request`) and
the documents after it (`record_invocation`, `record_api_request`), in the segment-document shape of X-Ray's
PutTraceSegments API, and keeps them for whoever writes them on: `tracectl.emulation.local_run`
sends them to the X-Ray emulator and the demo appends them to its trace file.

What is not faithful: timings are the local run's (when the emulator was invoked, when the runtime
posted its response, when the emulator answered), so `Overhead` is the emulator's, not Lambda's; no
`Initialization` subsegment (cold starts are not told apart); no `AWS::Lambda` segment's
`resource_arn` alias or version; API Gateway's segment covers only the integration call. SNS, SQS,
EventBridge and S3 write no segments here (with their own tracing off, they write none in AWS either).
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from tracectl.emulation.lambda_trace_header import fields_of
from tracectl.emulator_identity import ACCOUNT, REGION
from tracectl.traces.trace_model import SEGMENT_ATTRIBUTE, WRITTEN_BY_AWS, WRITTEN_BY_KEY

API_NAME = "Api"
"""The REST API's name as the stack makes it (LambdaRestApi's construct id)."""
API_STAGE = "prod"


@dataclass(frozen=True)
class Header:
    root: str
    parent: str | None
    sampled: bool

    @classmethod
    def parse(cls, header: str) -> Header:
        fields = fields_of(header)
        return cls(fields["Root"], fields.get("Parent"), fields.get("Sampled") == "1")

    def __str__(self) -> str:
        parent = f";Parent={self.parent}" if self.parent else ""
        return f"Root={self.root}{parent};Sampled={1 if self.sampled else 0}"


@dataclass(frozen=True)
class PendingInvocation:
    """The ids Lambda picks before it invokes: its service segment's and its function segment's."""

    function_name: str
    header: Header
    """What the invoker passed on (Parent: the invoker's segment or subsegment, or None)."""
    service_id: str
    function_id: str
    started: float

    @property
    def runtime_header(self) -> str:
        """`_X_AMZN_TRACE_ID` for the runtime: the function segment is the parent."""
        return str(Header(self.header.root, self.function_id, self.header.sampled))


class AwsSegments:
    """Thread-safe: every execution environment's invocations record here."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._lock = threading.Lock()
        self._documents: list[dict[str, Any]] = []

    def _id(self) -> str:
        with self._lock:
            return f"{self._rng.getrandbits(64):016x}"

    def api_request(self, header: Header) -> tuple[Header, str]:
        """API Gateway's ids before it calls the function: (the header it passes on, which names its
        `Lambda` subsegment; its own segment's id)."""
        segment_id, integration_id = self._id(), self._id()
        return Header(header.root, integration_id, header.sampled), segment_id

    def record_api_request(
        self,
        passed_on: Header,
        segment_id: str,
        *,
        function_name: str,
        method: str,
        path: str,
        status: int,
        request_id: str,
        started: float,
        ended: float,
    ) -> None:
        if not passed_on.sampled:
            return
        function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
        integration = {
            "id": passed_on.parent,
            "name": "Lambda",
            "namespace": "aws",
            "start_time": started,
            "end_time": ended,
            "http": {
                "request": {
                    "url": f"https://lambda.{REGION}.amazonaws.com/2015-03-31/functions/{function_arn}/invocations",
                    "method": "POST",
                },
                "response": {"status": 200},
            },
            "aws": {"function_name": function_name, "region": REGION, "operation": "Invoke"},
        }
        self._keep(
            {
                "trace_id": passed_on.root,
                "id": segment_id,
                "name": f"{API_NAME}/{API_STAGE}",
                "origin": "AWS::ApiGateway::Stage",
                "start_time": started,
                "end_time": ended,
                "http": {
                    "request": {"url": f"https://local.execute-api.localhost/{API_STAGE}{path}", "method": method},
                    "response": {"status": status},
                },
                "aws": {
                    "api_gateway": {
                        "account_id": ACCOUNT,
                        "rest_api_id": "local",
                        "stage": API_STAGE,
                        "request_id": request_id,
                    }
                },
                "error": 400 <= status < 500,
                "fault": status >= 500,
                "subsegments": [integration],
            }
        )

    def invocation(self, function_name: str, header: Header) -> PendingInvocation:
        return PendingInvocation(function_name, header, self._id(), self._id(), time.time())

    def record_invocation(
        self,
        pending: PendingInvocation,
        *,
        request_id: str | None,
        responded_s: float | None,
        finished_s: float,
        error: bool,
    ) -> None:
        """Lambda's service and function segments for an invocation that finished `finished_s` after it started."""
        if not pending.header.sampled:
            return
        started, ended = pending.started, pending.started + finished_s
        responded = started + responded_s if responded_s is not None else ended
        name, trace_id = pending.function_name, pending.header.root
        function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        service: dict[str, Any] = {
            "trace_id": trace_id,
            "id": pending.service_id,
            "name": name,
            "origin": "AWS::Lambda",
            "start_time": started,
            "end_time": ended,
            "http": {"response": {"status": 200}},
            "aws": {"request_id": request_id or ""},
            "error": error,
        }
        if pending.header.parent:
            service["parent_id"] = pending.header.parent
        function = {
            "trace_id": trace_id,
            "id": pending.function_id,
            "parent_id": pending.service_id,
            "name": name,
            "origin": "AWS::Lambda::Function",
            "start_time": started,
            "end_time": ended,
            "aws": {"function_arn": function_arn, "resource_names": [name], "account_id": ACCOUNT},
            "error": error,
            "subsegments": [
                {"id": self._id(), "name": "Invocation", "start_time": started, "end_time": responded},
                {"id": self._id(), "name": "Overhead", "start_time": responded, "end_time": ended},
            ],
        }
        self._keep(service)
        self._keep(function)

    def _keep(self, document: dict[str, Any]) -> None:
        with self._lock:
            self._documents.append(document)

    def documents(self) -> list[dict[str, Any]]:
        """Every document recorded so far, in the order recorded."""
        with self._lock:
            return list(self._documents)


def put_trace_segments(xray: Any, documents: list[dict[str, Any]]) -> None:
    """Send `documents` with X-Ray's PutTraceSegments (≤ 50 a call, as the API takes them)."""
    texts = [json.dumps(d) for d in documents]
    for start in range(0, len(texts), 50):
        xray.put_trace_segments(TraceSegmentDocuments=texts[start : start + 50])


def as_trace_file_line(documents: list[dict[str, Any]]) -> str:
    """One OTLP JSON line for a trace file: each segment and subsegment a span, read as X-Ray reads
    them (`tracectl.traces.xray_source`), its resource marked `tracectl.written_by=aws`; each
    top-level span keeps its whole document in `aws.xray.segment`, for views that show X-Ray's shape."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from tracectl.traces.otlp_receiver import to_otlp_json
    from tracectl.traces.trace_model import KINDS
    from tracectl.traces.xray_source import from_segments

    kinds = {name: number for number, name in KINDS.items()}
    request = ExportTraceServiceRequest()
    for document in documents:
        resource_spans = request.resource_spans.add()
        resource = {"service.name": document["name"], WRITTEN_BY_KEY: WRITTEN_BY_AWS}
        _set_attributes(resource_spans.resource.attributes, resource)
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name = __name__
        for span in from_segments([document]).spans:
            out = scope_spans.spans.add()
            out.trace_id, out.span_id = bytes.fromhex(span.trace_id), bytes.fromhex(span.span_id)
            if span.parent_id:
                out.parent_span_id = bytes.fromhex(span.parent_id)
            out.name, out.kind = span.name, kinds[span.kind]
            out.start_time_unix_nano, out.end_time_unix_nano = span.start_ns, span.end_ns
            out.status.code = 2 if span.error else 0
            attributes = dict(span.attributes)
            if span.span_id == document["id"]:
                attributes[SEGMENT_ATTRIBUTE] = json.dumps(document)
            _set_attributes(out.attributes, attributes)
    return json.dumps(to_otlp_json(request))


def _set_attributes(target: Any, values: dict[str, Any]) -> None:
    for key, value in values.items():
        attribute = target.add()
        attribute.key = key
        if isinstance(value, bool):
            attribute.value.bool_value = value
        elif isinstance(value, int):
            attribute.value.int_value = value
        elif isinstance(value, float):
            attribute.value.double_value = value
        elif isinstance(value, list | tuple):
            for item in value:
                attribute.value.array_value.values.add().string_value = str(item)
        else:
            attribute.value.string_value = str(value)
