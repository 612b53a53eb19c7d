"""The whole app on this machine: moto for AWS, one worker process per function, AWS's delivery rules.

`LocalRun` wires what infra/topology.py declares: API requests go to `ingest`; SNS
notifications and EventBridge events reach each triggered function through its tap queue; the
work queue is polled in batches of up to 10, as Lambda's event source mapping does. Failures
follow AWS's semantics so nothing disappears: an async (SNS, EventBridge) invocation that fails
is retried twice, then its event is sent to the on-failure queue in Lambda's destination-record
shape; SQS records that fail become visible again and, after `maxReceiveCount` receives, moto's
redrive moves them to the DLQ.
"""

from __future__ import annotations

import json
import os
import random
import select
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from infra import topology
from infra.config import TracerConfig
from infra.exporter_profile import (
    COLLECTOR_CONFIG_ENV,
    JAEGER_AUTHORIZATION_ENV,
    JAEGER_ENDPOINT_ENV,
    tracing_environment,
)
from tracectl.lambda_events import ACCOUNT, REGION, api_gateway_event
from tracectl.local_aws import LocalAws
from tracectl.uploader import Uploader
from tracectl.worker import SPAN_RECORD_ENV

ROOT = Path(__file__).resolve().parent.parent
INVOKE_TIMEOUT_S = 30.0


class WorkerError(RuntimeError):
    """A worker process died or did not answer."""


@dataclass
class RunStats:
    invocations: Counter[str] = field(default_factory=Counter)
    function_errors: Counter[str] = field(default_factory=Counter)
    async_failures: int = 0
    responses: list[dict[str, Any]] = field(default_factory=list)


class Worker:
    """A function's execution environment: a `python -m tracectl.worker` process."""

    def __init__(self, spec: topology.Function, env: dict[str, str], log_file: Path) -> None:
        self.spec = spec
        self._log = log_file.open("w")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tracectl.worker", spec.name],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )

    @property
    def pid(self) -> int:
        return self._process.pid

    def wait_ready(self, timeout: float) -> None:
        self._read(timeout)

    def invoke(self, event: Any, request_id: str) -> dict[str, Any]:
        """{"result": ...} or {"error": {...}} as the handler answered."""
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps({"event": event, "request_id": request_id}) + "\n")
        self._process.stdin.flush()
        return self._read(INVOKE_TIMEOUT_S)

    def stop(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._log.close()

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self._process.stdout is not None
        ready, _, _ = select.select([self._process.stdout], [], [], timeout)
        line = self._process.stdout.readline() if ready else ""
        if not line:
            raise WorkerError(f"function {self.spec.name} did not answer within {timeout:.0f} s (see its log)")
        return json.loads(line)


class ExternalEndpoint:
    """A stand-in for the `http` function's external HTTPS endpoint: no internet needed."""

    def __init__(self) -> None:
        class Ok(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class LocalRun:
    """Use as a context manager; every process and server it starts stops on exit."""

    def __init__(
        self,
        *,
        otlp_endpoint: str,
        work_dir: Path,
        fault_rate: float,
        seed: int | None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        """`extra_env` is added to every worker's environment (e.g. tracectl.worker's span record)."""
        self.otlp_endpoint = otlp_endpoint
        self.extra_env = extra_env or {}
        self.work_dir = work_dir
        self.fault_rate = fault_rate
        self.seed = seed
        self.stats = RunStats()
        self._ids = random.Random(seed)
        self.aws = LocalAws()
        self.workers: dict[str, Worker] = {}
        self._external: ExternalEndpoint | None = None
        self._uploader: Uploader | None = None

    def __enter__(self) -> LocalRun:
        self.aws.__enter__()
        self._external = ExternalEndpoint()
        logs = self.work_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        try:
            for spec in topology.FUNCTIONS:
                self.workers[spec.name] = Worker(spec, self.function_env(spec), logs / f"{spec.name}.log")
            for worker in self.workers.values():
                worker.wait_ready(timeout=120)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._uploader is not None:
            self._uploader.shutdown()
        for worker in self.workers.values():
            worker.stop()
        if self._external:
            self._external.stop()
        self.aws.__exit__()

    def function_env(self, spec: topology.Function) -> dict[str, str]:
        """What Lambda and the stack would set for `spec`, pointed at this machine."""
        # The jaeger profile's propagation and sampling (no Lambda X-Ray segment exists here).
        config = TracerConfig(exporter="jaeger", jaeger_endpoint=self.otlp_endpoint, sampling_ratio=1.0)
        tracing = tracing_environment(config, spec.name)
        for collector_only in (COLLECTOR_CONFIG_ENV, JAEGER_ENDPOINT_ENV, JAEGER_AUTHORIZATION_ENV):
            tracing.pop(collector_only, None)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AWS_", "_X_AMZN"))},
            **self.aws.environment(),
            **tracing,
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.otlp_endpoint,  # no collector locally: straight to the sink
            "PYTHONPATH": str(ROOT),
            "_HANDLER": spec.handler,
            "LAMBDA_TASK_ROOT": str(ROOT),
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/[$LATEST]{spec.name}",
            **self.aws.function_environment(spec),
            **self.extra_env,
        }
        if spec.calls_external:
            assert self._external is not None
            env[topology.EXTERNAL_URL_ENV] = self._external.url
            env[topology.FAULT_RATE_ENV] = repr(self.fault_rate)
            if self.seed is not None:
                env["FAULT_SEED"] = str(self.seed)
        return env

    def request(self, path: str) -> dict[str, Any]:
        """One API request through `ingest`; returns the API response."""
        reply = self._invoke("ingest", api_gateway_event("GET", path))
        response = reply.get("result") or {"statusCode": 502, "headers": {}, "body": json.dumps(reply.get("error"))}
        self.stats.responses.append(response)
        return response

    def upload(self, key: str, body: bytes) -> str:
        """An uploader's PutObject to the uploads bucket (see tracectl.uploader); returns its trace id."""
        if self._uploader is None:
            record = self.extra_env.get(SPAN_RECORD_ENV)
            self._uploader = Uploader(
                self.aws.client("s3"),
                topology.UPLOADS_BUCKET,
                otlp_endpoint=self.otlp_endpoint,
                record_dir=Path(record) if record else None,
            )
        return self._uploader.upload(key, body)

    def pump(self, *, timeout_s: float = 60.0, on_invocation: Callable[[], None] | None = None) -> None:
        """Deliver every SNS notification and SQS message until all queues are quiet."""
        deadline = time.monotonic() + timeout_s
        quiet_rounds = 0
        while time.monotonic() < deadline and quiet_rounds < 2:
            delivered = 0
            for spec in topology.FUNCTIONS:
                if spec.is_async:
                    receive = {
                        "sns": self.aws.receive_sns_events,
                        "eventbridge": self.aws.receive_eventbridge_events,
                        "s3": self.aws.receive_s3_events,
                    }[spec.trigger.kind]
                    for event in receive(spec.name):
                        self._invoke_async(spec.name, event)
                        delivered += 1
                elif spec.trigger.kind == "sqs":
                    assert spec.trigger.source is not None
                    delivered += self._poll_queue(spec, spec.trigger.source)
                elif spec.trigger.kind == "dynamodb":
                    delivered += self._poll_stream(spec)
            if on_invocation and delivered:
                on_invocation()
            quiet_rounds = 0 if delivered else quiet_rounds + 1

    def dead_letters(self) -> dict[str, int]:
        """Messages waiting in each dead-letter queue."""
        sqs = self.aws.client("sqs")
        counts = {}
        for name in (topology.QUEUE.dlq, topology.ASYNC_FAILURE_QUEUE):
            attributes = sqs.get_queue_attributes(
                QueueUrl=self.aws.resources.queue_urls[name], AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            counts[name] = int(attributes["ApproximateNumberOfMessages"])
        return counts

    def _invoke(self, function_name: str, event: Any) -> dict[str, Any]:
        request_id = str(uuid.UUID(int=self._ids.getrandbits(128), version=4))
        self.stats.invocations[function_name] += 1
        reply = self.workers[function_name].invoke(event, request_id)
        if "error" in reply:
            self.stats.function_errors[function_name] += 1
        return reply

    def _invoke_async(self, function_name: str, event: Any) -> None:
        """Lambda's async invocation: up to 1 + ASYNC_RETRY_ATTEMPTS tries, then the on-failure queue."""
        for _attempt in range(1 + topology.ASYNC_RETRY_ATTEMPTS):
            reply = self._invoke(function_name, event)
            if "error" not in reply:
                return
        self.stats.async_failures += 1
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 1 + topology.ASYNC_RETRY_ATTEMPTS,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": reply["error"],
        }
        self.aws.client("sqs").send_message(
            QueueUrl=self.aws.resources.queue_urls[topology.ASYNC_FAILURE_QUEUE], MessageBody=json.dumps(record)
        )

    def _poll_stream(self, spec: topology.Function) -> int:
        """The table's stream mapping: a batch, retried as a whole, then its record to the failure queue."""
        event = self.aws.receive_stream_event(max_records=spec.trigger.batch_size)
        if event is None:
            return 0
        for _attempt in range(1 + topology.ASYNC_RETRY_ATTEMPTS):
            reply = self._invoke(spec.name, event)
            failures = (reply.get("result") or {}).get("batchItemFailures") if "result" in reply else None
            if "error" not in reply and not failures:
                return 1
        records = event["Records"]
        failure = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{spec.name}",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": 1 + topology.ASYNC_RETRY_ATTEMPTS,
            },
            "DDBStreamBatchInfo": {
                "shardId": "local",
                "startSequenceNumber": records[0]["dynamodb"].get("SequenceNumber"),
                "endSequenceNumber": records[-1]["dynamodb"].get("SequenceNumber"),
                "batchSize": len(records),
                "streamArn": self.aws.resources.table_stream_arn,
            },
            "timestamp": datetime.now(UTC).isoformat(),
        }
        self.aws.client("sqs").send_message(
            QueueUrl=self.aws.resources.queue_urls[topology.ASYNC_FAILURE_QUEUE], MessageBody=json.dumps(failure)
        )
        return 1

    def _poll_queue(self, spec: topology.Function, queue: str) -> int:
        event = self.aws.receive_sqs_event(queue, max_messages=spec.trigger.batch_size)
        if event is None:
            return 0
        reply = self._invoke(spec.name, event)
        records = event["Records"]
        if "error" in reply:
            failed = {r["messageId"] for r in records}
        else:
            failures = (reply.get("result") or {}).get("batchItemFailures") or []
            failed = {f.get("itemIdentifier") for f in failures}
        self.aws.delete_batch(queue, [r["receiptHandle"] for r in records if r["messageId"] not in failed])
        sqs = self.aws.client("sqs")
        for record in records:
            if record["messageId"] in failed:
                # Visible again at once (not after the visibility timeout) so a demo sees the redrive.
                sqs.change_message_visibility(
                    QueueUrl=self.aws.resources.queue_urls[queue],
                    ReceiptHandle=record["receiptHandle"],
                    VisibilityTimeout=0,
                )
        return 1
