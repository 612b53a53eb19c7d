"""`tracectl traffic`: requests at a deployed API (a local stand-in here), the trace ids they carry, uploads."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from tracectl.cli import main


@contextmanager
def fake_api(answer) -> Iterator[str]:
    """A local API whose GET answers `answer(path) -> (status, trace id)`; yields its base URL."""

    class Api(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, trace_id = answer(self.path)
            body = json.dumps({"trace_id": trace_id}).encode()
            self.send_response(status)
            if status == 200:
                self.send_header("x-trace-id", trace_id)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/prod/"
    finally:
        server.shutdown()
        server.server_close()


def test_traffic_drives_the_api_collects_trace_ids_and_counts_errors() -> None:
    served: list[str] = []

    def answer(path: str) -> tuple[int, str]:
        served.append(path)
        number = int(path.rsplit("/", 1)[-1])
        return (500 if number % 4 == 3 else 200), f"{number:032x}"

    with fake_api(answer) as url:
        result = CliRunner().invoke(main, ["traffic", "--url", url, "-n", "8", "-c", "3"])
    assert sorted(served) == sorted(f"/prod/traffic/{i}" for i in range(8))
    printed = [line for line in result.output.splitlines() if len(line) == 32]
    assert printed == [f"{i:032x}" for i in range(8)]  # error answers still carry the id in the body
    assert "sent 8, errors 2" in result.output
    assert "requests" in result.output  # the progress bar
    assert result.exit_code == 1  # errors make it non-zero


@pytest.mark.live
def test_deployed_both_stack_traces_match_in_xray_and_jaeger() -> None:
    import os

    url, jaeger_url = os.environ.get("TRACECTL_LIVE_API_URL"), os.environ.get("TRACECTL_JAEGER_URL")
    if not url or not jaeger_url:
        pytest.skip(
            "needs a stack deployed with -c exporter=both, AWS credentials, TRACECTL_LIVE_API_URL "
            "(the ApiUrl output) and TRACECTL_JAEGER_URL (its Jaeger query URL): none here"
        )
    result = CliRunner().invoke(main, ["traffic", "--url", url, "-n", "5", "--compare", "--jaeger", jaeger_url])
    assert result.exit_code == 0, result.output


def test_traffic_uploads_objects_to_the_bucket_too(local_aws) -> None:
    s3 = local_aws.client("s3")
    before = s3.list_objects_v2(Bucket="uploads").get("KeyCount", 0)
    with fake_api(lambda _path: (200, "0" * 32)) as url:
        result = CliRunner().invoke(main, ["traffic", "--url", url, "-n", "1", "--uploads", "3", "--bucket", "uploads"])
        missing = CliRunner().invoke(main, ["traffic", "--url", url, "-n", "1", "--uploads", "1"])
    assert result.exit_code == 0, result.output
    assert s3.list_objects_v2(Bucket="uploads")["KeyCount"] == before + 3
    assert result.output.count("uploaded s3://uploads/traffic/") == 3
    assert missing.exit_code == 2 and "--uploads needs --bucket NAME" in missing.output
