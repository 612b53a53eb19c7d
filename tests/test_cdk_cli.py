"""The real CDK CLI (`npx cdk synth`, aws-cdk@2 from package-lock.json) synthesizes every exporter offline.

The first synth bundles the functions for real (pip for the Lambda platform, no Docker); the
others reuse the bundle from the same output directory, as the CLI does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
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
    args = [str(CDK), "synth", "--quiet", "-o", str(out)]
    for item in context:
        args += ["-c", item]
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(
    "context",
    [
        ("exporter=xray",),
        ("exporter=jaeger", "jaegerEndpoint=https://jaeger.example.com:4318"),
        ("exporter=both", "jaegerEndpoint=https://jaeger.example.com:4318", "jaegerHeadersSecret=jaeger/auth"),
        ("exporter=jaeger", "deployJaeger=true"),
    ],
    ids=["xray", "jaeger", "both", "deployed-jaeger"],
)
def test_cdk_synth_succeeds_offline(cdk_out: Path, context: tuple[str, ...]) -> None:
    result = cdk_synth(cdk_out, *context)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "feature flags are not configured" not in result.stdout + result.stderr  # cdk.json sets them all
    template = json.loads((cdk_out / "OtelTracer.template.json").read_text())
    exporter = context[0].split("=")[1]
    assert template["Outputs"]["Exporter"]["Value"] == exporter
    assert (cdk_out / "OtelTracerJaeger.template.json").exists() == ("deployJaeger=true" in context)


def test_the_bundle_ships_handlers_collector_configs_and_only_the_http_exporter(cdk_out: Path) -> None:
    if not (cdk_out / "OtelTracer.template.json").exists():
        assert cdk_synth(cdk_out, "exporter=xray").returncode == 0
    [asset] = [p for p in cdk_out.glob("asset.*") if p.is_dir()]
    assert (asset / "functions" / "ingest" / "handler.py").is_file()
    assert sorted(p.name for p in (asset / "collector").glob("*.yaml")) == ["both.yaml", "jaeger.yaml", "xray.yaml"]
    assert not (asset / "collector" / "local").exists()  # the local pipeline's files stay home
    assert not (asset / "collector" / "jaeger-on-aws").exists()  # the deployed Jaeger's config is its task's
    assert (asset / "opentelemetry" / "exporter" / "otlp" / "proto" / "http").is_dir()
    assert not (asset / "grpc").exists()
    assert not (asset / "opentelemetry" / "exporter" / "otlp" / "proto" / "grpc").exists()
    # the repository's other folders never ship
    assert not any((asset / name).exists() for name in ("infra", "tracectl", "tests", ".venv", "node_modules"))


def _bytecode_tags(asset: Path) -> dict[str, int]:
    """How many modules carry bytecode, by interpreter tag (`cpython-311`), and how many modules there are."""
    tags: dict[str, int] = {"modules": len(list(asset.rglob("*.py")))}
    for path in asset.rglob("*.pyc"):
        tags[path.name.split(".")[-2]] = tags.get(path.name.split(".")[-2], 0) + 1
    return tags


def test_the_runtime_follows_the_python_that_synthesizes_and_the_bundle_carries_its_bytecode(cdk_out: Path) -> None:
    if not (cdk_out / "OtelTracer.template.json").exists():
        assert cdk_synth(cdk_out, "exporter=xray").returncode == 0
    template = json.loads((cdk_out / "OtelTracer.template.json").read_text())
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    runtimes = {f["Properties"]["Runtime"] for f in functions}
    assert runtimes == {f"python{sys.version_info.major}.{sys.version_info.minor}"}
    [asset] = [p for p in cdk_out.glob("asset.*") if p.is_dir()]
    tags = _bytecode_tags(asset)
    tag = f"cpython-{sys.version_info.major}{sys.version_info.minor}"
    assert set(tags) == {"modules", tag}  # the runtime's bytecode, nobody else's
    assert tags[tag] >= 0.99 * tags["modules"], tags  # (nearly) every module: compileall skips none it can read
    assert list((asset / "functions" / "tracing" / "__pycache__").glob(f"*.{tag}.pyc"))


def test_a_runtime_without_its_python_here_ships_source_and_synth_says_so_in_one_line(tmp_path: Path) -> None:
    from infra.bundle import runtime_interpreter
    from infra.python_runtime import offered

    missing = [v for v in offered(date.today()) if runtime_interpreter(v) is None]
    if not missing:
        pytest.skip("every runtime's Python is on this machine's PATH: no runtime lacks its bytecode here")
    result = cdk_synth(tmp_path / "cdk.out", "exporter=xray", f"pythonRuntime={missing[-1]}")
    assert result.returncode == 0, result.stderr[-3000:]
    [line] = [line for line in result.stderr.splitlines() if line.startswith("bundling:")]
    assert f"no bytecode for the python{missing[-1]} runtime (python{missing[-1]} is not on PATH)" in line
    assert "every cold start compiles every module" in line
    [asset] = [p for p in (tmp_path / "cdk.out").glob("asset.*") if p.is_dir()]
    assert set(_bytecode_tags(asset)) == {"modules"}


def test_cdk_synth_with_a_bad_exporter_fails_with_the_one_line(cdk_out: Path) -> None:
    result = cdk_synth(cdk_out.parent / "bad.out", "exporter=zipkin")
    assert result.returncode != 0
    assert "error: -c exporter=zipkin is not valid: use one of xray | jaeger | both" in result.stderr
    shutil.rmtree(cdk_out.parent / "bad.out", ignore_errors=True)
