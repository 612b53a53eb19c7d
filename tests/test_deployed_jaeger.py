"""tracectl and the Jaeger stack: its outputs name the Jaeger, every read is signed, the UI proxy
serves 127.0.0.1 only and stops by itself. CloudFormation is the emulator's (moto server)."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
import urllib3
from click.testing import CliRunner

from tests.trace_documents import TRACE, otlp
from tracectl.aws.deployed_jaeger import UiProxy, sigv4_signer
from tracectl.cli import main


def deploy_stack(local_aws, outputs: dict[str, str]) -> str:
    """A stack on the emulator with these outputs, as the Jaeger stack's deploy leaves them."""
    name = f"Jaeger{uuid.uuid4().hex[:8]}"
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    local_aws.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    return name


def local_file(tmp_path) -> str:
    path = tmp_path / "local.jsonl"
    path.write_text(json.dumps(otlp()) + "\n")
    return str(path)


def assert_signed_for_execute_api(headers: dict[str, str]) -> None:
    authorization = headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=")
    assert "/us-east-1/execute-api/aws4_request" in authorization
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "x-amz-date"} <= set(signed)
    assert headers["X-Amz-Date"].endswith("Z")


def test_compare_finds_the_jaeger_by_stack_name_and_signs_every_read(local_aws, jaeger, tmp_path) -> None:
    server = jaeger(v3={"result": otlp()}, legacy=None)
    name = deploy_stack(local_aws, {"JaegerUrl": server.url + "/", "IngestSecretName": "ingest-abc"})
    result = CliRunner().invoke(
        main, ["compare", TRACE, "--local", local_file(tmp_path), "--jaeger-stack", name, "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["verdict"] == "identical"
    assert server.paths == [f"/api/v3/traces/{TRACE}"]
    assert_signed_for_execute_api(server.headers[0])


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        (None, "cannot read stack NoSuchJaeger: Stack with id NoSuchJaeger does not exist"),
        ({"ApiUrl": "https://x"}, "has no JaegerUrl, IngestSecretName output: is it the Jaeger stack"),
    ],
)
def test_a_stack_that_is_not_the_jaeger_stack_is_one_clear_line(local_aws, tmp_path, outputs, message) -> None:
    name = "NoSuchJaeger" if outputs is None else deploy_stack(local_aws, outputs)
    result = CliRunner().invoke(main, ["compare", TRACE, "--local", local_file(tmp_path), "--jaeger-stack", name])
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert message in line


def test_the_stack_and_a_url_together_is_refused(local_aws, tmp_path) -> None:
    result = CliRunner().invoke(
        main, ["compare", TRACE, "--local", local_file(tmp_path), "--jaeger-stack", "X", "--jaeger", "http://j"]
    )
    assert result.exit_code == 2
    assert "--jaeger-stack names the Jaeger (and signs for it): drop --jaeger" in result.output


def test_endpoints_prints_what_the_outputs_say(local_aws) -> None:
    name = deploy_stack(
        local_aws, {"JaegerUrl": "https://abc.execute-api.us-east-1.amazonaws.com", "IngestSecretName": "s"}
    )
    result = CliRunner().invoke(main, ["jaeger", "endpoints", "--jaeger-stack", name])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "stack": name,
        "region": "us-east-1",
        "query": "https://abc.execute-api.us-east-1.amazonaws.com",
        "otlp_http": "https://abc.execute-api.us-east-1.amazonaws.com",
        "ingest_secret": "s",
    }


def test_the_ui_proxy_signs_reads_refuses_writes_and_binds_loopback(local_aws, recorder) -> None:
    upstream = recorder(lambda r: (200, {"path": r.path}))
    with UiProxy(upstream.url, sigv4_signer("us-east-1")) as proxy:
        assert proxy.url.startswith("http://127.0.0.1:")
        http = urllib3.PoolManager(retries=False)
        answer = http.request("GET", f"{proxy.url}/search?service=ingest&limit=20")
        assert (answer.status, json.loads(answer.data)) == (200, {"path": "/search?service=ingest&limit=20"})
        assert http.request("POST", f"{proxy.url}/api/traces", body=b"{}").status == 405
    [seen] = upstream.requests  # the write never left the machine
    assert (seen.method, seen.path) == ("GET", "/search?service=ingest&limit=20")
    assert_signed_for_execute_api(seen.headers)


def test_the_ui_proxy_stops_by_itself_when_idle(local_aws, recorder) -> None:
    proxy = UiProxy(recorder().url, sigv4_signer("us-east-1"), idle_s=0.5)
    serving = threading.Thread(target=proxy.serve, daemon=True)
    started = time.monotonic()
    serving.start()
    serving.join(timeout=10)
    assert not serving.is_alive()
    assert time.monotonic() - started < 5
