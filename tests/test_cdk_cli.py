"""The real CDK CLI (`npx cdk synth`, aws-cdk@2 from package-lock.json) synthesizes every exporter offline.

The first synth bundles the functions for real (pip for the Lambda platform, no Docker); the
others reuse the bundle from the same output directory, as the CLI does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

CDK = ROOT / "node_modules" / ".bin" / "cdk"


@pytest.fixture(scope="module")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CDK.exists():
        pytest.fail("node_modules/.bin/cdk is missing: run `make setup` (npm ci)")
    return tmp_path_factory.mktemp("cli") / "cdk.out"


def cdk_synth(out: Path, *context: str) -> subprocess.CompletedProcess[str]:
    # No AWS credentials and no region: synth must not need them.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    args = [str(CDK), "synth", "--quiet", "--no-notices", "-o", str(out)]
    for item in context:
        args += ["-c", item]
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(
    "context",
    [
        ("exporter=xray",),
        ("exporter=jaeger", "jaegerEndpoint=https://jaeger.example.com:4318"),
        ("exporter=both", "jaegerEndpoint=https://jaeger.example.com:4318", "jaegerHeadersSecret=jaeger/auth"),
    ],
    ids=["xray", "jaeger", "both"],
)
def test_cdk_synth_succeeds_offline(cdk_out: Path, context: tuple[str, ...]) -> None:
    result = cdk_synth(cdk_out, *context)
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads((cdk_out / "OtelTracer.template.json").read_text())
    exporter = context[0].split("=")[1]
    assert template["Outputs"]["Exporter"]["Value"] == exporter


def test_the_bundle_ships_handlers_collector_configs_and_only_the_http_exporter(cdk_out: Path) -> None:
    if not (cdk_out / "OtelTracer.template.json").exists():
        assert cdk_synth(cdk_out, "exporter=xray").returncode == 0
    [asset] = [p for p in cdk_out.glob("asset.*") if p.is_dir()]
    assert (asset / "functions" / "ingest" / "handler.py").is_file()
    assert sorted(p.name for p in (asset / "collector").glob("*.yaml")) == ["both.yaml", "jaeger.yaml", "xray.yaml"]
    assert not (asset / "collector" / "local").exists()  # the local pipeline's files stay home
    assert (asset / "opentelemetry" / "exporter" / "otlp" / "proto" / "http").is_dir()
    assert not (asset / "grpc").exists()
    assert not (asset / "opentelemetry" / "exporter" / "otlp" / "proto" / "grpc").exists()
    # the repository's other folders never ship
    assert not any((asset / name).exists() for name in ("infra", "tracectl", "tests", ".venv", "node_modules"))


def test_the_bundle_carries_bytecode_for_the_runtime_or_none(cdk_out: Path) -> None:
    """Bytecode of the build machine's Python would be dead weight the runtime recompiles anyway."""
    if not (cdk_out / "OtelTracer.template.json").exists():
        assert cdk_synth(cdk_out, "exporter=xray").returncode == 0
    [asset] = [p for p in cdk_out.glob("asset.*") if p.is_dir()]
    tags = {path.name.split(".")[-2] for path in asset.rglob("*.pyc")}
    if shutil.which("python3.14"):
        assert tags == {"cpython-314"}
        assert list((asset / "functions" / "tracing" / "__pycache__").glob("bootstrap.cpython-314.pyc"))
    else:  # synth said why in one line; the bundle ships source only
        assert tags == set()


def test_cdk_synth_with_a_bad_exporter_fails_with_the_one_line(cdk_out: Path) -> None:
    result = cdk_synth(cdk_out.parent / "bad.out", "exporter=zipkin")
    assert result.returncode != 0
    assert "error: -c exporter=zipkin is not valid: use one of xray | jaeger | both" in result.stderr
    shutil.rmtree(cdk_out.parent / "bad.out", ignore_errors=True)
