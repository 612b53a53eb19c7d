"""Bad context fails synth with one line naming the flag and the valid values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import pytest

from infra.config import ConfigError, TracerConfig
from tests.conftest import ROOT


def config(**context: object) -> TracerConfig:
    return TracerConfig.from_context(context.get)


def test_defaults_are_xray_on_x86_with_documented_rates() -> None:
    c = config()
    assert (c.exporter, c.architecture, c.sends_to_xray, c.sends_to_jaeger) == ("xray", "x86_64", True, False)
    assert (c.xray_reservoir, c.xray_fixed_rate, c.sampling_ratio) == (1, 0.05, 1.0)


def test_api_throttling_defaults_and_context() -> None:
    assert (config().api_rate_limit, config().api_burst_limit) == (50.0, 100)
    assert (config(apiRateLimit="2.5", apiBurstLimit="5").api_rate_limit, config(apiBurstLimit=5).api_burst_limit) == (
        2.5,
        5,
    )


def test_cli_strings_are_parsed() -> None:
    c = config(exporter="both", jaegerEndpoint="https://j.example.com:4318", samplingRatio="0.25", faultRate="0")
    assert (c.sends_to_xray, c.sends_to_jaeger, c.sampling_ratio, c.fault_rate) == (True, True, 0.25, 0.0)


def test_export_delay_is_zero_unless_given() -> None:
    delays = [config(**given).export_delay_s for given in ({}, {"exportDelay": "5"}, {"exportDelay": 2.5})]
    assert delays == [0.0, 5.0, 2.5]


def test_deploy_jaeger_needs_no_endpoint_and_takes_its_sizes() -> None:
    c = config(exporter="jaeger", deployJaeger="true")
    assert (c.deploy_jaeger, c.jaeger_endpoint, c.jaeger_retention_days, c.jaeger_data_nodes) == (True, None, 7, 1)
    assert c.jaeger_max_tasks == 2
    sized = config(exporter="both", deployJaeger=True, jaegerRetentionDays="30", jaegerDataNodes="2", jaegerMaxTasks=4)
    assert (sized.jaeger_retention_days, sized.jaeger_data_nodes, sized.jaeger_max_tasks) == (30, 2, 4)
    assert config(exporter="jaeger", jaegerEndpoint="https://j.example.com:4318").deploy_jaeger is False


def test_snap_start_is_off_unless_asked_for_by_string_or_boolean() -> None:
    runtime = {"pythonRuntime": "3.12"}  # SnapStart needs 3.12+; this machine may build with older
    asked = ({}, {"snapStart": "true", **runtime}, {"snapStart": True, **runtime})
    assert [config(**c).snap_start for c in asked] == [False, True, True]
    assert config(snapStart=False).snap_start is False


def test_the_runtime_follows_the_python_that_synthesizes_while_lambda_offers_it() -> None:
    # GIVEN synth run by Python 3.12, 3.10 (deprecated in Lambda on 2026-10-31) or 3.15 (not offered)
    on = date(2026, 12, 1)
    builds = ((3, 12), (3, 10), (3, 15))
    chosen = [TracerConfig.from_context({}.get, build_python=v, today=on).python_runtime for v in builds]
    # THEN the bundle's bytecode is the runtime's where it can be, else the newest runtime is used
    assert chosen == ["3.12", "3.14", "3.14"]
    # …and an explicit runtime wins, with or without the `python` prefix
    assert config(pythonRuntime="python3.13").python_runtime == config(pythonRuntime="3.13").python_runtime == "3.13"


def test_snap_start_needs_a_runtime_of_at_least_3_12() -> None:
    older = {"snapStart": "true"}
    with pytest.raises(ConfigError) as raised:
        TracerConfig.from_context(older.get, build_python=(3, 11), today=date(2026, 12, 1))
    assert str(raised.value) == (
        "-c snapStart=true needs python3.12 or newer and the runtime follows the Python running synth (3.11): "
        "use -c pythonRuntime=3.12 | 3.13 | 3.14"
    )
    newer = {"snapStart": "true"}
    assert TracerConfig.from_context(newer.get, build_python=(3, 13), today=date(2026, 12, 1)).python_runtime == "3.13"


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"pythonRuntime": "3.10"}, "-c pythonRuntime=3.10: Lambda deprecated python3.10 on 2026-10-31: use one of"),
        ({"pythonRuntime": "3.9"}, "-c pythonRuntime=3.9 is not valid: use one of"),
        ({"pythonRuntime": "3.11", "snapStart": "true"}, "-c snapStart=true needs python3.12 or newer"),
        ({"exporter": "zipkin"}, "-c exporter=zipkin is not valid: use one of xray | jaeger | both"),
        ({"exporter": "jaeger"}, "-c exporter=jaeger needs -c jaegerEndpoint=https://HOST:4318"),
        ({"exporter": "both"}, "-c exporter=both needs -c jaegerEndpoint="),
        (
            {"exporter": "jaeger", "jaegerEndpoint": "jaeger:4318"},
            "-c jaegerEndpoint=jaeger:4318 is not an http(s) URL",
        ),
        ({"exporter": "jaeger", "jaegerEndpoint": "ftp://j.example.com"}, "is not an http(s) URL"),
        ({"exporter": "jaeger", "jaegerEndpoint": "https://u:secret@j.example.com"}, "must not carry credentials"),
        ({"samplingRatio": "1.5"}, "-c samplingRatio=1.5 is out of range: use a value from 0 to 1"),
        ({"samplingRatio": "-0.1"}, "-c samplingRatio=-0.1 is out of range"),
        ({"samplingRatio": "half"}, "-c samplingRatio=half is not a number"),
        ({"faultRate": "2"}, "-c faultRate=2 is out of range"),
        ({"architecture": "sparc"}, "-c architecture=sparc is not valid: use one of x86_64 | arm64"),
        ({"xrayReservoir": "-1"}, "-c xrayReservoir=-1 is negative"),
        ({"externalUrl": "not a url"}, "-c externalUrl=not a url is not an http(s) URL"),
        ({"apiRateLimit": "0"}, "-c apiRateLimit=0 is out of range: use 0.1 to 10000 (e.g. -c apiRateLimit=50)"),
        ({"apiRateLimit": "fast"}, "-c apiRateLimit=fast is not a number: use 0.1 to 10000"),
        ({"apiBurstLimit": "1.5"}, "-c apiBurstLimit=1.5 is not a whole number: use 1 to 5000"),
        ({"apiBurstLimit": "6000"}, "-c apiBurstLimit=6000 is out of range: use 1 to 5000 (e.g. -c apiBurstLimit=100)"),
        ({"snapStart": "yes"}, "-c snapStart=yes is not valid: use one of true | false"),
        ({"exportDelay": "-1"}, "-c exportDelay=-1 is out of range: use 0 to 900 (e.g. -c exportDelay=0)"),
        ({"exportDelay": "soon"}, "-c exportDelay=soon is not a number: use 0 to 900"),
        ({"exporter": "jaeger"}, "or -c deployJaeger=true (deploy one)"),
        (
            {"deployJaeger": "true"},
            "-c deployJaeger=true deploys a Jaeger for the functions to send to: add -c exporter",
        ),
        (
            {"exporter": "jaeger", "deployJaeger": "true", "jaegerEndpoint": "https://j.example.com"},
            "-c deployJaeger=true sends to the Jaeger it deploys: drop -c jaegerEndpoint",
        ),
        (
            {"exporter": "both", "deployJaeger": "true", "jaegerHeadersSecret": "mine"},
            "-c deployJaeger=true makes its own ingest credentials: drop -c jaegerHeadersSecret",
        ),
        ({"deployJaeger": "maybe"}, "-c deployJaeger=maybe is not valid: use one of true | false"),
        (
            {"exporter": "jaeger", "jaegerEndpoint": "https://j.example.com", "jaegerRetentionDays": "30"},
            "-c jaegerRetentionDays sizes the deployed Jaeger: it needs -c deployJaeger=true",
        ),
        (
            {"exporter": "jaeger", "deployJaeger": "true", "jaegerRetentionDays": "0"},
            "-c jaegerRetentionDays=0 is out of range: use 1 to 3650",
        ),
        (
            {"exporter": "jaeger", "deployJaeger": "true", "jaegerDataNodes": "5"},
            "-c jaegerDataNodes=5 is out of range",
        ),
        (
            {"exporter": "jaeger", "deployJaeger": "true", "jaegerMaxTasks": "lots"},
            "-c jaegerMaxTasks=lots is not a whole",
        ),
    ],
)
def test_bad_context_is_one_clear_line(context: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        config(**context)
    text = str(raised.value)
    assert message in text
    assert "\n" not in text


def test_secret_never_echoed_in_the_error() -> None:
    with pytest.raises(ConfigError) as raised:
        config(exporter="jaeger", jaegerEndpoint="https://u:hunter2@j.example.com")
    assert "hunter2" not in str(raised.value)


def test_app_py_exits_with_the_one_line_on_stderr() -> None:
    # GIVEN the real entry point and a bad -c value (the CDK CLI passes context as CDK_CONTEXT_JSON)
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"exporter": "zipkin"}), "CDK_OUTDIR": "/tmp/never-written"}
    # WHEN it runs
    result = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    # THEN it fails before building anything, with exactly one line
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["error: -c exporter=zipkin is not valid: use one of xray | jaeger | both (e.g. -c exporter=xray)"]
